import StageCommands

PrepareCommand.main()
