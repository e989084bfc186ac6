import StageCommands

TrieCommand.main()
