from hermes4.cli import main

main()
