import StageCommands

DriverCommand.main()
