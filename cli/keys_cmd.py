"""The checkpoint key and signed checkpoints of the audit chains: `keys init`,
`audit checkpoint` (and its export for publication)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer

from cli import app, audit_app
from cli.common import DatabaseOption, HelpCommand, HelpGroup, context, fail

keys_app = typer.Typer(cls=HelpGroup, help="签名密钥 / the checkpoint signing key", no_args_is_help=True)
app.add_typer(keys_app, name="keys")

KeyFileOption = Annotated[
    Path | None,
    typer.Option(
        "--key-file",
        metavar="FILE",
        help="签名密钥文件，Ed25519（默认：DECISIONFLOW_CHECKPOINT_KEY） / the Ed25519 key file (default: DECISIONFLOW_CHECKPOINT_KEY)",
    ),
]
DEFAULT_KEY = Path.home() / ".config" / "decisionflow" / "checkpoint.key"


def key_file(option: Path | None) -> Path:
    """The key is held outside the database: named by the option, by configuration, or the
    default in the operator's home."""
    from flows.service.checkpoint import KEY_ENV

    named = option or (Path(os.environ[KEY_ENV]) if os.environ.get(KEY_ENV) else None)
    return named or DEFAULT_KEY


@keys_app.command("init", cls=HelpCommand)
def keys_init(key: KeyFileOption = None) -> None:
    """生成检查点签名密钥（仅所有者可读的文件）及其公钥（.pub）。 / Create the checkpoint signing key
    (owner-only file) and its public key (.pub)."""
    from flows.service.checkpoint import CheckpointError, init_key, public_path

    path = key_file(key)
    try:
        fingerprint = init_key(path)
    except CheckpointError as exc:
        fail("INPUT", exc.field, exc.zh, exc.en)
    typer.echo(
        f"已创建签名密钥 {path}（公钥 {public_path(path)}，标识 {fingerprint}）；请妥善保管，勿存入数据库"
        f" / created the signing key {path} (public key {public_path(path)}, id {fingerprint}); keep it "
        "outside the database"
    )


@audit_app.command("checkpoint", cls=HelpCommand)
def audit_checkpoint(
    key: KeyFileOption = None,
    export: Annotated[
        Path | None,
        typer.Option(
            "--export", metavar="FILE", help="同时将全部检查点写入 FILE / also write every checkpoint to FILE"
        ),
    ] = None,
    database: DatabaseOption = None,
) -> None:
    """将每条审计链的长度和链头签名为检查点（写入数据表和日志文件）。 / Sign every chain's length and head
    into a checkpoint (table and log file)."""
    from sqlmodel import Session

    from flows.service import checkpoint as cp

    ctx = context(database)
    path = key_file(key)
    try:
        private = cp.load_private(path)
    except cp.CheckpointError as exc:
        fail("INPUT", exc.field, exc.zh, exc.en)
    if ctx.data_dir is None:
        fail(
            "INPUT",
            "DECISIONFLOW_DATA_DIR",
            "未配置数据文件夹，检查点日志无处写入",
            "no data folder is configured for the checkpoint log",
        )
    with Session(ctx.engine) as session:
        row = cp.write(session, private, ctx.clock(), ctx.data_dir)
        session.commit()
        chains = len(cp.canonical_chains(row))
        if export is not None:
            export.write_text(cp.export(session, private.public_key()), encoding="utf-8")
    typer.echo(
        f"检查点 {row.seq}：{chains} 条链，已签名（{row.key_id}） / checkpoint {row.seq}: {chains} chains, "
        f"signed ({row.key_id})" + (f"; exported to {export}" if export else "")
    )
