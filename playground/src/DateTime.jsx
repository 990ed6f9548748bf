// A date-time input that shows what is sent: RFC 3339 text (typed, or filled from the browser's
// own date-time picker beside it, read as UTC), so a mistyped value is caught at the field.
function fromPicker(local) {
  return local ? `${local.length === 16 ? `${local}:00` : local}Z` : undefined;
}

function toPicker(value) {
  const match = /^(\d{4}-\d{2}-\d{2})[Tt ](\d{2}:\d{2})/.exec(value || '');
  return match ? `${match[1]}T${match[2]}` : '';
}

export default function DateTimeWidget({ id, value, onChange, onBlur, onFocus, label, schema, disabled, readonly, required, rawErrors }) {
  const name = label || schema.title || id;
  return (
    <div className={`datetime${rawErrors && rawErrors.length ? ' has-error' : ''}`}>
      <input
        id={id}
        type="text"
        className="form-control"
        aria-label={name}
        aria-required={required || undefined}
        placeholder="2026-12-01T15:00:00Z"
        value={value ?? ''}
        disabled={disabled || readonly}
        onChange={(event) => onChange(event.target.value === '' ? undefined : event.target.value)}
        onBlur={() => onBlur && onBlur(id, value)}
        onFocus={() => onFocus && onFocus(id, value)}
      />
      <input
        type="datetime-local"
        className="form-control picker"
        aria-label={`${name} (picker, UTC)`}
        value={toPicker(value)}
        disabled={disabled || readonly}
        onChange={(event) => onChange(fromPicker(event.target.value))}
      />
    </div>
  );
}
