from v4doctor.cli import main

raise SystemExit(main())
