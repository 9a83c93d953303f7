from ashiato.cli import main

main()
