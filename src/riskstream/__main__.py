from riskstream.cli import main

main()
