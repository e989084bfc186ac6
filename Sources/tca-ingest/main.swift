import StageCommands

IngestCommand.main()
