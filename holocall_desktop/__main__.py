from holocall_desktop.cli import main

raise SystemExit(main())
