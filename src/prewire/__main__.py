from prewire.cli.main import main

main()
