extension CommandTable {
    /// The command reference as Markdown, generated from the table so `docs/COMMANDS.md` cannot drift from what
    /// the server dispatches (a test compares the two; `roostd --commands-markdown` prints it).
    public func markdown() -> String {
        var text = "| command | arity | flags | keys (first, last, step) | since | summary |\n"
        text += "|---|---|---|---|---|---|\n"
        for command in commands {
            text += row(command)
            for sub in command.subcommands { text += row(sub) }
        }
        return text
    }

    private func row(_ command: Command) -> String {
        let name = command.fullName.uppercased().replacingOccurrences(of: "|", with: " ")
        let keys = command.keys.first > 0 ? "\(command.keys.first), \(command.keys.last), \(command.keys.step)" : "–"
        let summary = command.summary.replacingOccurrences(of: "|", with: "\\|")
        return "| `\(name)` | \(command.arity) | \(command.flags.names.joined(separator: " ")) | \(keys) | "
            + "\(command.since) | \(summary) |\n"
    }
}

extension String {
    fileprivate func replacingOccurrences(of target: String, with replacement: String) -> String {
        split(separator: Character(target), omittingEmptySubsequences: false).joined(separator: replacement)
    }
}
