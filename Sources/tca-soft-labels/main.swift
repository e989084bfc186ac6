import StageCommands

SoftLabelsCommand.main()
