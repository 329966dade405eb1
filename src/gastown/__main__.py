from gastown.cli.main import run

run()
