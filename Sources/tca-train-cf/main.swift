import StageCommands

TrainCFCommand.main()
