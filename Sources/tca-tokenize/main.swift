import StageCommands

TokenizeCommand.main()
