-- scrub.lua: an example transform for rowcast (engine: lua) built on the native helpers
-- (UDFs, `rowcast --help-udfs`), the twin of scrub.js. Personal data is pseudonymized before
-- it leaves the database: `name` through obf_string (the same name always gives the same
-- pseudonym, so joins and counts still work), `email` through mask_email plus an
-- `email_sha256` column for exact matching downstream, and `card` through mask_digits when
-- the example plugin (udf/examples, `udfs: [rowcast_udf_example.so]`) is loaded.
-- UDFs give null back for null, so NULL columns stay NULL.

function transform(e)
  for _, rows in ipairs({e.before, e.after}) do
    for _, r in ipairs(rows) do
      if r.email ~= nil then -- a column of the table (NULL is null, and gives null back)
        r.email_sha256 = sha256(r.email)
        r.email = mask_email(r.email)
      end
      r.name = obf_string(r.name)
      if r.card ~= nil and mask_digits ~= nil then
        r.card = mask_digits(r.card)
      end
    end
  end
  return ACTION_CONT
end
