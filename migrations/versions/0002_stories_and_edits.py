"""stories and edits: articles.story_*, entry_hash, title_history, updated_at; alerts.kind,
revision, reply_to (unique per rule, article, channel and revision); canonical links
recomputed with the AMP/mobile/www folding

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-03 18:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("articles") as batch:
        batch.add_column(sa.Column("story_id", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("story_reason", sa.String(length=16), nullable=True))
        batch.add_column(sa.Column("story_score", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("entry_hash", sa.String(length=64), nullable=True))
        batch.add_column(sa.Column("title_history", sa.JSON(), nullable=True))
        batch.add_column(sa.Column("updated_at", sa.DateTime(), nullable=True))
        batch.create_index(op.f("ix_articles_story_id"), ["story_id"], unique=False)
    with op.batch_alter_table("alerts") as batch:
        batch.add_column(
            sa.Column("kind", sa.String(length=16), server_default="match", nullable=False)
        )
        batch.add_column(sa.Column("revision", sa.Integer(), server_default="0", nullable=False))
        batch.add_column(sa.Column("reply_to", sa.Integer(), nullable=True))
        batch.drop_constraint("uq_alerts_rule_article_id_channel", type_="unique")
        batch.create_unique_constraint(
            op.f("uq_alerts_rule_article_id_channel_revision"),
            ["rule", "article_id", "channel", "revision"],
        )
    op.execute("UPDATE articles SET story_id = id, story_reason = 'new', story_score = 100")
    _recompute_canonical_links()


def _recompute_canonical_links() -> None:
    """Fold the stored links the way this version does (an article linked as its AMP or
    mobile edition is the same article). When two stored articles fold to one link, the
    older keeps it and the later gets none (it was stored twice already)."""
    from monitor.normalize.urls import canonical_url

    bind = op.get_bind()
    articles = sa.table(
        "articles", sa.column("id", sa.Integer), sa.column("canonical_link", sa.String)
    )
    rows = bind.execute(
        sa.select(articles.c.id, articles.c.canonical_link)
        .where(articles.c.canonical_link.is_not(None))
        .order_by(articles.c.id)
    ).all()
    taken = {link for _id, link in rows}
    owner = {link: art_id for art_id, link in rows}
    for art_id, link in rows:
        new = canonical_url(link)
        if new == link:
            continue
        if new is not None and new in taken and owner.get(new) != art_id:
            new = None  # an older article has this link already
        bind.execute(
            articles.update().where(articles.c.id == art_id).values(canonical_link=new)
        )
        if new is not None:
            taken.add(new)
            owner[new] = art_id


def downgrade() -> None:
    op.execute("DELETE FROM alerts WHERE revision > 0")
    with op.batch_alter_table("alerts") as batch:
        batch.drop_constraint("uq_alerts_rule_article_id_channel_revision", type_="unique")
        batch.create_unique_constraint(
            "uq_alerts_rule_article_id_channel", ["rule", "article_id", "channel"]
        )
        batch.drop_column("reply_to")
        batch.drop_column("revision")
        batch.drop_column("kind")
    with op.batch_alter_table("articles") as batch:
        batch.drop_index(op.f("ix_articles_story_id"))
        for column in (
            "updated_at", "title_history", "entry_hash", "story_score", "story_reason", "story_id"
        ):
            batch.drop_column(column)
