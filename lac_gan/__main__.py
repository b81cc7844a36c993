from lac_gan.cli import main

main()
