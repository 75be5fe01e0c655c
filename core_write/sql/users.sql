-- name: user_by_email --
-- A tenant's user by (lowercased) email. $1 tenant id, $2 email
SELECT * FROM users WHERE tenant_id = $1 AND email = $2
