"""`memvault migrate create`: write the next numbered migration from a template."""

from __future__ import annotations

import re
from pathlib import Path

from memvault.errors import ConfigError
from memvault.migrations.loader import load_migrations

PY_TEMPLATE = '''"""{title}"""

# memvault runs up(), then verify(), then records this migration in schema_migrations,
# all in ONE transaction: if anything raises, none of it is kept.
# As written this migration applies and changes nothing; fill in the three functions.

description = "{title}"


def up(ctx):
    """Make the change. Example:

    ctx.execute("ALTER TABLE memories ADD COLUMN source TEXT")
    ctx.execute("CREATE INDEX idx_memories_source ON memories(source)")
    """


def down(ctx):
    """Undo exactly what up() did, in reverse order. Example:

    ctx.execute("DROP INDEX idx_memories_source")
    ctx.execute("ALTER TABLE memories DROP COLUMN source")
    """


def verify(ctx):
    """Return True (or None) when the change is in place, else False or a message. Example:

    if not ctx.column_exists("memories", "source"):
        return "memories.source is missing"
    """
    return True
'''

SQL_TEMPLATE = """-- description: {title}
-- memvault runs the up section, then every verify SELECT (each must return one truthy
-- value), then records this migration, all in ONE transaction: on any error none of it
-- is kept. As written this migration applies and changes nothing; fill in the sections.

-- migrate:up
-- e.g. ALTER TABLE memories ADD COLUMN source TEXT;
SELECT 1;

-- migrate:down
-- e.g. ALTER TABLE memories DROP COLUMN source;
SELECT 1;

-- migrate:verify
-- e.g. SELECT count(*) = 1 FROM pragma_table_info('memories') WHERE name = 'source';
SELECT 1;
"""


def slugify(name: str) -> str:
    """`Add Feature!` -> `add_feature`; ConfigError when nothing usable is left."""
    slug = re.sub(r"[^a-z0-9]+", "_", name.strip().lower()).strip("_")
    if not slug:
        raise ConfigError(f"migration name {name!r} has no letters or digits")
    return slug


def create_migration(folder: Path, name: str, *, sql: bool = False) -> Path:
    """Write `NNN_<slug>.py|.sql` with the next free number (padded to 3 digits)."""
    slug = slugify(name)
    existing = load_migrations(folder)
    version = (existing[-1].version if existing else 0) + 1
    path = folder / f"{version:03d}_{slug}.{'sql' if sql else 'py'}"
    title = slug.replace("_", " ").capitalize()
    template = SQL_TEMPLATE if sql else PY_TEMPLATE
    try:
        with path.open("x", encoding="utf-8") as fh:
            fh.write(template.format(title=title))
    except FileExistsError as exc:
        raise ConfigError(f"{path} already exists") from exc
    except OSError as exc:
        raise ConfigError(f"cannot write {path}: {exc.strerror}") from exc
    return path
