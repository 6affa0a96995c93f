"""An index that serves the case-insensitive email check, so adding an account does not
read every account.

Emails are unique ignoring case: creating or re-addressing a user looks for another account
with `email = :email COLLATE NOCASE`. The UNIQUE constraint's index compares with the
column's BINARY collation, so that lookup scanned the whole users table: a cost that grew
with every tenant, not with the one asking. An index on `email COLLATE NOCASE` serves it.
The constraint and the legacy idx_users_email stay as they are (the service relies on them).
"""

description = "Index users(email COLLATE NOCASE) for the case-insensitive email check"

INDEX = "idx_users_email_nocase"


def up(ctx):
    ctx.execute(f"CREATE INDEX {INDEX} ON users(email COLLATE NOCASE)")


def down(ctx):
    ctx.execute(f"DROP INDEX {INDEX}")


def verify(ctx):
    if not ctx.index_exists(INDEX):
        return f"index {INDEX} is missing"
    rows = ctx.query(f"SELECT name, coll FROM pragma_index_xinfo('{INDEX}') WHERE key = 1")
    keys = [(str(r[0]), str(r[1]).upper()) for r in rows]
    if keys != [("email", "NOCASE")]:
        return f"index {INDEX} covers {keys}, expected email COLLATE NOCASE"
    return True
