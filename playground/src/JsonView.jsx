const LIMIT = 200000;

export default function JsonView({ value, label }) {
  let text = JSON.stringify(value, null, 2);
  if (text === undefined) text = 'null';
  const cut = text.length > LIMIT;
  return (
    <pre className="json" aria-label={label}>
      {cut ? `${text.slice(0, LIMIT)}\n… (${(text.length - LIMIT).toLocaleString('en-US')} more characters)` : text}
    </pre>
  );
}
