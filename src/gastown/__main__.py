from gastown.cli.main import main

raise SystemExit(main())
