from secretsafe.cli import main

main()
