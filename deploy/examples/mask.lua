-- mask.lua: an example transform for rowcast (engine: lua), the twin of mask.js.
-- Drops rows marked status = 'test', routes every table named audit_* to one topic
-- <schema>.audit, and masks the local part of an `email` column (alice@x.org -> a***@x.org).
-- SQL NULL is the value `null`; lists are 1-based (e.after[1] is the row after the change).

local function mask_email(v)
  if type(v) ~= "string" then
    return v -- null stays null
  end
  local user, domain = v:match("^([^@]*)@(.*)$")
  if not user then
    return "***"
  end
  return user:sub(1, 1) .. "***@" .. domain
end

function transform(e)
  local row = e.after[1] or e.before[1]
  if row and row.status == "test" then
    return ACTION_DROP
  end
  if e.table:sub(1, 6) == "audit_" then
    e.kafka.topic = e.schema .. ".audit"
  end
  for _, rows in ipairs({e.before, e.after}) do
    for _, r in ipairs(rows) do
      if r.email ~= nil then
        r.email = mask_email(r.email)
      end
    end
  end
  return ACTION_CONT
end
