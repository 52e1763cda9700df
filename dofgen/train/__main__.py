"""``python -m dofgen.train exif|dmd ...`` (run it under ``accelerate launch`` to scale out)."""

from __future__ import annotations

import sys

from dofgen.train import dmd, exif_embedding
from dofgen.train.accelerate_run import Parser


def main(argv: list[str] | None = None) -> int:
    parser = Parser(prog="python -m dofgen.train", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True, parser_class=Parser)
    commands = {"exif": exif_embedding, "dmd": dmd}
    for name, module in commands.items():
        module.add_flags(sub.add_parser(name, help=module.__doc__.splitlines()[0], description=module.__doc__))
    args = parser.parse_args(argv)
    return commands[args.command].main(args, sub.choices[args.command])


if __name__ == "__main__":
    sys.exit(main())
