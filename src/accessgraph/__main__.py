from accessgraph.cli import main

main()
