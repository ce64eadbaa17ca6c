import APIMachinery
import JSON
import Testing

/// The remote command protocol's pure parts (Tests/APIMachineryTests/RemoteCommandTests.swift).
@Suite struct RemoteCommandTests {
    @Test func negotiatesTheMostPreferredOfferedSubprotocol() {
        #expect(RemoteCommand.negotiate(["v5.channel.k8s.io"]) == "v5.channel.k8s.io")
        #expect(RemoteCommand.negotiate(["v4.channel.k8s.io, v5.channel.k8s.io"]) == "v5.channel.k8s.io")
        #expect(RemoteCommand.negotiate(["base64.channel.k8s.io", " v4.channel.k8s.io "]) == "v4.channel.k8s.io")
        #expect(RemoteCommand.negotiate(["channel.k8s.io"]) == nil)
        #expect(RemoteCommand.negotiate([]) == nil)
    }

    @Test func readsExecOptionsAsApimachineryDoes() {
        let options = RemoteCommand.Options(query: [("command", "sh"), ("command", "-c"), ("command", "echo a&b"), ("container", "c"),
                                                    ("stdin", "true"), ("stdout", "1"), ("stderr", "false")])
        #expect(options == RemoteCommand.Options(command: ["sh", "-c", "echo a&b"], container: "c", stdin: true, stdout: true, stderr: false))
        // With a terminal there is one output: stderr is dropped, as the kubelet does.
        let tty = RemoteCommand.Options(query: [("command", "sh"), ("stdin", "true"), ("stdout", "true"), ("stderr", "true"), ("tty", "true")])
        #expect(tty.tty && !tty.stderr)
        #expect(RemoteCommand.Options(query: [("command", "ls")]).problem == "you must specify at least 1 of stdin, stdout, stderr")
        #expect(RemoteCommand.Options(query: [("stdout", "true")]).problem == "you must specify at least one command for the container")
        #expect(options.agentQuery == "command=sh&command=-c&command=echo%20a%26b&stdin=1&stdout=1")
    }

    @Test func writesTheStatusesClientGoDecodes() throws {
        #expect(RemoteCommand.Outcome.success.status == ["metadata": .emptyObject, "status": "Success"])
        let exited = RemoteCommand.Outcome(exitCode: 3, command: ["sh", "-c", "exit 3"])
        #expect(exited.status["reason"] == "NonZeroExitCode")
        #expect(exited.status[path: ["details", "causes"]] == [["reason": "ExitCode", "message": "3"]])
        #expect(exited.status["message"]?.stringValue
            == "command terminated with non-zero exit code: error executing command [sh -c exit 3], exit code 3")
        #expect(RemoteCommand.Outcome(exitCode: 0, command: ["true"]) == .success)
        let message = RemoteCommand.Outcome.failed("container \"c\" is not running").message
        #expect(message.first == RemoteCommand.Stream.error)
        #expect(try JSONValue.parse(message.dropFirst())["message"]?.stringValue == "Internal error occurred: container \"c\" is not running")
    }

    @Test func readsTerminalSizes() {
        let payload = Array(#"{"Width":80,"Height":24}"#.utf8) + [10] + Array(#"{"Width":123,"Height":45}"#.utf8) + [10]
        let sizes = RemoteCommand.terminalSizes(payload)
        #expect(sizes.map(\.width) == [80, 123] && sizes.map(\.height) == [24, 45])
        #expect(RemoteCommand.terminalSizes(Array("junk".utf8)).isEmpty)
    }
}
