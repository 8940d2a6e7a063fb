import sys

try:
    from holocall_desktop.cli import main
except KeyboardInterrupt:  # Ctrl-C while Python was still loading the command line
    print("holocall: interrupted", file=sys.stderr)
    raise SystemExit(130) from None

raise SystemExit(main())
