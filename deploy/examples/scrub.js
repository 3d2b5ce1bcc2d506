// scrub.js: an example transform for rowcast (engine: js, ECMAScript 5.1) built on the native
// helpers (UDFs, `rowcast --help-udfs`), the twin of scrub.lua. Personal data is pseudonymized
// before it leaves the database: `name` through obf_string (the same name always gives the
// same pseudonym, so joins and counts still work), `email` through mask_email plus an
// `email_sha256` column for exact matching downstream, and `card` through mask_digits when
// the example plugin (udf/examples, `udfs: [rowcast_udf_example.so]`) is loaded.
// UDFs give null back for null, so NULL columns stay NULL.

function scrub(r) {
  if (r.email !== undefined) { // a column of the table (NULL gives null back)
    r.email_sha256 = sha256(r.email);
    r.email = mask_email(r.email);
  }
  r.name = obf_string(r.name);
  if (r.card !== undefined && typeof mask_digits === 'function') {
    r.card = mask_digits(r.card);
  }
}

function transform(e) {
  e.before.forEach(scrub);
  e.after.forEach(scrub);
  return ACTION_CONT;
}
