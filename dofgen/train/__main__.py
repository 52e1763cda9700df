"""``python -m dofgen.train exif|dmd ...`` (run it under ``accelerate launch`` to scale out)."""

from __future__ import annotations

import sys

from dofgen.argparse_help import TerseParser, summary
from dofgen.train import dmd, exif_embedding


def main(argv: list[str] | None = None) -> int:
    parser = TerseParser(prog="python -m dofgen.train", description=summary(__doc__))
    sub = parser.add_subparsers(dest="command", required=True, parser_class=TerseParser)
    commands = {"exif": exif_embedding, "dmd": dmd}
    for name, module in commands.items():
        module.add_flags(sub.add_parser(name, help=summary(module.__doc__), description=module.__doc__))
    args = parser.parse_args(argv)
    return commands[args.command].main(args, sub.choices[args.command])


if __name__ == "__main__":
    sys.exit(main())
