"""`redis-gitops`, as installed: the product's commands (synth/cli.py) with the development harness's
(synth/dev_commands.py)."""

from redis_gitops.synth.cli import create_app
from redis_gitops.synth.dev_commands import LOCAL_HOOKS, add_development_commands


def main() -> None:
    create_app(local=LOCAL_HOOKS, extend=[add_development_commands])()
