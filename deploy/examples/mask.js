// mask.js: an example transform for rowcast (engine: js, ECMAScript 5.1), the twin of mask.lua.
// Drops rows marked status = 'test', routes every table named audit_* to one topic
// <schema>.audit, and masks the local part of an `email` column (alice@x.org -> a***@x.org).
// SQL NULL is null; write function(e){} rather than arrow functions (duktape runs ES5.1).

function maskEmail(v) {
  if (typeof v !== 'string') {
    return v; // null stays null
  }
  var at = v.indexOf('@');
  if (at < 0) {
    return '***';
  }
  return v.charAt(0) + '***' + v.substring(at);
}

function transform(e) {
  var row = e.after[0] || e.before[0];
  if (row && row.status === 'test') {
    return ACTION_DROP;
  }
  if (e.table.indexOf('audit_') === 0) {
    e.kafka.topic = e.schema + '.audit';
  }
  [e.before, e.after].forEach(function (rows) {
    rows.forEach(function (r) {
      if (r.email !== undefined) {
        r.email = maskEmail(r.email);
      }
    });
  });
  return ACTION_CONT;
}
