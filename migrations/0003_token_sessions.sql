-- Session metadata on tokens, for "your devices" listings: the client's address and user agent
-- as the server saw them at login, and when the token was last used (about once a minute).
ALTER TABLE tokens
    ADD COLUMN client_addr text,
    ADD COLUMN user_agent  text,
    ADD COLUMN last_used   bigint;
