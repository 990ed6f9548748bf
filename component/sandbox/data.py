"""Deterministic, plausible fake data: names, addresses, phones, emails, times and document ids.

Every record is generated from ``(seed, resource, n)`` alone, so the same seed gives the same data in
any order of access, and a collection can be built lazily, only when something reads it.
"""

from __future__ import annotations

import hashlib
import string
import zlib
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

FIRST_NAMES = [
    "James",
    "Mary",
    "Robert",
    "Patricia",
    "John",
    "Jennifer",
    "Michael",
    "Linda",
    "David",
    "Elizabeth",
    "William",
    "Barbara",
    "Richard",
    "Susan",
    "Joseph",
    "Jessica",
    "Thomas",
    "Sarah",
    "Charles",
    "Karen",
    "Daniel",
    "Lisa",
    "Matthew",
    "Nancy",
    "Anthony",
    "Betty",
    "Mark",
    "Sandra",
    "Donald",
    "Ashley",
    "Steven",
    "Emily",
    "Andrew",
    "Kimberly",
    "Paul",
    "Donna",
    "Joshua",
    "Michelle",
    "Kenneth",
    "Carol",
    "Kevin",
    "Amanda",
    "Brian",
    "Melissa",
    "George",
    "Deborah",
    "Timothy",
    "Stephanie",
    "Ronald",
    "Rebecca",
    "Jason",
    "Laura",
    "Edward",
    "Sharon",
    "Jeffrey",
    "Cynthia",
    "Ryan",
    "Kathleen",
    "Jacob",
    "Amy",
    "Gary",
    "Angela",
    "Nicholas",
    "Shirley",
    "Eric",
    "Brenda",
    "Jonathan",
    "Emma",
    "Stephen",
    "Anna",
    "Larry",
    "Pamela",
    "Justin",
    "Nicole",
    "Scott",
    "Samantha",
    "Brandon",
    "Katherine",
    "Benjamin",
    "Christine",
    "Samuel",
    "Debra",
    "Gregory",
    "Rachel",
    "Alexander",
    "Carolyn",
    "Frank",
    "Janet",
    "Patrick",
    "Maria",
    "Raymond",
    "Olivia",
    "Jack",
    "Heather",
    "Dennis",
    "Helen",
    "Jerry",
    "Catherine",
    "Tyler",
    "Diane",
    "Aaron",
    "Julie",
]
LAST_NAMES = [
    "Smith",
    "Johnson",
    "Williams",
    "Brown",
    "Jones",
    "Garcia",
    "Miller",
    "Davis",
    "Rodriguez",
    "Martinez",
    "Hernandez",
    "Lopez",
    "Gonzalez",
    "Wilson",
    "Anderson",
    "Thomas",
    "Taylor",
    "Moore",
    "Jackson",
    "Martin",
    "Lee",
    "Perez",
    "Thompson",
    "White",
    "Harris",
    "Sanchez",
    "Clark",
    "Ramirez",
    "Lewis",
    "Robinson",
    "Walker",
    "Young",
    "Allen",
    "King",
    "Wright",
    "Scott",
    "Torres",
    "Nguyen",
    "Hill",
    "Flores",
    "Green",
    "Adams",
    "Nelson",
    "Baker",
    "Hall",
    "Rivera",
    "Campbell",
    "Mitchell",
    "Carter",
    "Roberts",
    "Gomez",
    "Phillips",
    "Evans",
    "Turner",
    "Diaz",
    "Parker",
    "Cruz",
    "Edwards",
    "Collins",
    "Reyes",
    "Stewart",
    "Morris",
    "Morales",
    "Murphy",
    "Cook",
    "Rogers",
    "Gutierrez",
    "Ortiz",
    "Morgan",
    "Cooper",
    "Peterson",
    "Bailey",
    "Reed",
    "Kelly",
    "Howard",
    "Ramos",
    "Kim",
    "Cox",
    "Ward",
    "Richardson",
    "Watson",
    "Brooks",
    "Chavez",
    "Wood",
    "James",
    "Bennett",
    "Gray",
]
STREETS = [
    "Main St",
    "Oak Ave",
    "Maple Dr",
    "Cedar Ln",
    "Pine St",
    "Elm St",
    "Washington Ave",
    "Lake Rd",
    "Hill St",
    "Park Ave",
    "Sunset Blvd",
    "Ridge Rd",
    "Meadow Ln",
    "Forest Dr",
    "River Rd",
    "Highland Ave",
    "Church St",
    "Spring St",
    "Mill Rd",
    "Willow Way",
]
CITIES = (
    ("Denver", "CO", "802", "303"),
    ("Austin", "TX", "787", "512"),
    ("Phoenix", "AZ", "850", "602"),
    ("Columbus", "OH", "432", "614"),
    ("Charlotte", "NC", "282", "704"),
    ("Nashville", "TN", "372", "615"),
    ("Portland", "OR", "972", "503"),
    ("Tampa", "FL", "336", "813"),
    ("Sacramento", "CA", "958", "916"),
    ("Raleigh", "NC", "276", "919"),
    ("Boise", "ID", "837", "208"),
    ("Omaha", "NE", "681", "402"),
)
COMPANY_WORDS = [
    "Acme",
    "Summit",
    "Pioneer",
    "Blue",
    "Sky",
    "Evergreen",
    "Liberty",
    "Keystone",
    "Frontier",
    "Cardinal",
    "Horizon",
]
COMPANY_KINDS = [
    "Properties",
    "Holdings",
    "Dental",
    "Bakery",
    "Realty",
    "Fitness",
    "Logistics",
    "Cafe",
    "Clinic",
    "Storage",
]
SERVICES = (
    ("AC tune-up", 129.0),
    ("Furnace repair", 245.0),
    ("Water heater install", 1450.0),
    ("Drain cleaning", 189.0),
    ("Thermostat install", 219.0),
    ("Duct cleaning", 399.0),
    ("Leak detection", 175.0),
    ("Panel upgrade", 1890.0),
    ("Window cleaning", 150.0),
    ("Gutter cleaning", 120.0),
)
_DOC_ALPHABET = string.ascii_letters + string.digits
_DOC_TABLE = bytes(ord(_DOC_ALPHABET[i % len(_DOC_ALPHABET)]) for i in range(256))


def doc_id(resource: str, n: int, seed: int = 0) -> str:
    """A 20-character document id (Firestore style) for record ``n`` of ``resource``, stable per seed."""
    return hashlib.sha256(f"{seed}:{resource}:{n}".encode()).digest()[:20].translate(_DOC_TABLE).decode()


def iso(moment: datetime) -> str:
    """UTC ISO 8601 with microseconds and ``Z``: one canonical form, so strings sort as times."""
    return moment.astimezone(UTC).replace(tzinfo=None).isoformat(timespec="microseconds") + "Z"


def parse_time(text: str) -> datetime | None:
    """An ISO 8601 date or date-time (``Z`` or an offset; a bare date is midnight UTC), or None."""
    try:
        moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


@dataclass(frozen=True)
class Person:
    first: str
    last: str
    street: str
    city: str
    state: str
    zip: str
    phone: str
    email: str

    @property
    def name(self) -> str:
        return f"{self.first} {self.last}"


_MASK = (1 << 64) - 1


class SplitMix:
    """A tiny seeded generator (splitmix64): costs nothing to start, so each record gets its own."""

    def __init__(self, seed: int) -> None:
        self.state = seed & _MASK

    def next(self) -> int:
        self.state = (self.state + 0x9E3779B97F4A7C15) & _MASK
        z = self.state
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _MASK
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _MASK
        return z ^ (z >> 31)

    def random(self) -> float:
        return (self.next() >> 11) / 9007199254740992.0

    def randrange(self, start: int, stop: int | None = None) -> int:
        if stop is None:
            start, stop = 0, start
        return start + self.next() % (stop - start)

    def choice(self, options: tuple[Any, ...] | list[Any]) -> Any:
        return options[self.next() % len(options)]

    def uniform(self, low: float, high: float) -> float:
        return low + (high - low) * self.random()


class Faker:
    """Plausible values from one seeded random generator (one per record)."""

    def __init__(self, seed: int, resource: str, n: int, anchor: date) -> None:
        self.random = SplitMix(zlib.crc32(f"{seed}:{resource}".encode()) * 1_000_003 + n)
        self.anchor = datetime(anchor.year, anchor.month, anchor.day, tzinfo=UTC)

    def pick(self, options: tuple[str, ...] | list[str]) -> str:
        return options[self.random.randrange(len(options))]

    def person(self) -> Person:
        first, last = self.pick(FIRST_NAMES), self.pick(LAST_NAMES)
        city, state, zip_prefix, area = CITIES[self.random.randrange(len(CITIES))]
        number = self.random.randrange(100, 9999)
        phone = f"+1{area}{self.random.randrange(200, 999)}{self.random.randrange(0, 9999):04d}"
        email = f"{first}.{last}{self.random.randrange(1, 99)}@example.com".lower()
        return Person(
            first,
            last,
            f"{number} {self.pick(STREETS)}",
            city,
            state,
            f"{zip_prefix}{number % 100:02d}",
            phone,
            email,
        )

    def company(self) -> str:
        return f"{self.pick(COMPANY_WORDS)} {self.pick(COMPANY_KINDS)}"

    def service(self) -> tuple[str, float]:
        return SERVICES[self.random.randrange(len(SERVICES))]

    def past(self, days: int = 730) -> datetime:
        """A moment in the ``days`` before the anchor day, to the second."""
        return self.anchor - timedelta(seconds=self.random.randrange(1, days * 86400))

    def around(self, days: int = 30) -> datetime:
        """A working-hours slot within ``days`` either side of the anchor day."""
        day = self.anchor + timedelta(days=self.random.randrange(-days, days + 1))
        return day + timedelta(hours=self.random.randrange(13, 23), minutes=self.random.choice((0, 30)))

    def later(self, moment: datetime, max_days: int = 60) -> datetime:
        return moment + timedelta(seconds=self.random.randrange(0, max_days * 86400))

    def money(self, low: float, high: float) -> float:
        return round(self.random.uniform(low, high), 2)

    def chance(self, probability: float) -> bool:
        return self.random.random() < probability
