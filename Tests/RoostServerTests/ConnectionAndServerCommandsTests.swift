import Foundation
import NIOCore
import RoostProtocol
import Testing

@testable import RoostServer

@Suite("Connection commands")
struct ConnectionCommandsTests {
    @Test func pingAndEcho() {
        var redis = Harness()
        #expect(redis("PING") == .simple("PONG"))
        #expect(redis("PING", "hi") == .bulk("hi"))
        #expect(redis("PING", "a", "b") == .error("ERR wrong number of arguments for 'ping' command"))
        #expect(redis("ECHO", "x") == .bulk("x"))
    }

    @Test func authenticationGatesCommands() {
        var redis = Harness(authenticated: false) { $0.requirePass = "secret" }
        #expect(redis("GET", "k") == .error("NOAUTH Authentication required."))
        #expect(redis("AUTH", "wrong") == .error("WRONGPASS invalid username-password pair or user is disabled."))
        #expect(
            redis("AUTH", "someone", "secret")
                == .error("WRONGPASS invalid username-password pair or user is disabled."))
        #expect(redis("AUTH", "default", "secret") == .ok)
        #expect(redis("GET", "k") == .null)
        #expect(redis("RESET") == .simple("RESET"))
        #expect(redis("GET", "k") == .error("NOAUTH Authentication required."))
    }

    @Test func authWithoutAPasswordIsAnError() {
        var redis = Harness()
        #expect(
            redis("AUTH", "x")
                == .error(
                    "ERR AUTH <password> called without any password configured for the default user. "
                        + "Are you sure your configuration is correct?"))
    }

    @Test func helloNegotiatesTheProtocol() {
        var redis = Harness(authenticated: false) { $0.requirePass = "pw" }
        #expect(redis("HELLO", "4") == .error("NOPROTO unsupported protocol version"))
        #expect(redis("HELLO", "x") == .error("ERR Protocol version is not an integer or out of range"))
        #expect(
            redis("HELLO", "3")
                == .error(
                    "NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO <proto> AUTH "
                        + "<user> <pass> option can be used to authenticate the client and select the RESP protocol "
                        + "version at the same time"))
        #expect(redis("HELLO", "3", "AUTH", "default", "pw", "SETNAME", "me") != .null)
        #expect(redis.context.respVersion == .resp3)
        #expect(redis.context.authenticated)
        #expect(redis("CLIENT", "GETNAME") == .bulk("me"))
        #expect(redis("HELLO", "2", "BOGUS") == .error("ERR Syntax error in HELLO option 'BOGUS'"))
        // RESP3 nulls are `_`.
        redis.context.arguments = [ByteBuffer(string: "GET"), ByteBuffer(string: "missing")]
        Dispatcher.beginBatch(&redis.context)
        Dispatcher.execute(&redis.context)
        #expect(String(buffer: redis.context.out) == "_\r\n")
    }

    @Test func selectOnlyDatabaseZero() {
        var redis = Harness()
        #expect(redis("SELECT", "0") == .ok)
        #expect(redis("SELECT", "1") == .error("ERR DB index is out of range"))
        #expect(redis("SELECT", "x") == .error("ERR value is not an integer or out of range"))
    }

    @Test func quitClosesAfterTheReply() {
        var redis = Harness()
        #expect(redis("QUIT") == .ok)
        #expect(redis.context.closeAfterReply)
    }

    @Test func unknownCommandsAndSubcommandsUseRedisErrors() {
        var redis = Harness()
        #expect(redis("FOO", "a", "b") == .error("ERR unknown command 'FOO', with args beginning with: 'a' 'b' "))
        #expect(redis("CLIENT", "NOPE") == .error("ERR unknown subcommand 'NOPE'. Try CLIENT HELP."))
        #expect(redis("CLIENT", "SETNAME") == .error("ERR wrong number of arguments for 'client|setname' command"))
        #expect(
            redis("CLIENT", "SETNAME", "has space")
                == .error(
                    "ERR Client names cannot contain spaces, newlines or special characters."))
    }
}

@Suite("Server commands")
struct ServerCommandsTests {
    @Test func dbsizeAndFlush() {
        var redis = Harness()
        redis("MSET", "a", "1", "b", "2")
        #expect(redis("DBSIZE") == .integer(2))
        #expect(redis("FLUSHALL", "BOGUS") == .error("ERR syntax error"))
        #expect(redis("FLUSHDB", "ASYNC") == .ok)
        #expect(redis("DBSIZE") == .integer(0))
    }

    @Test func infoReportsRedisFieldsAndCounters() {
        var redis = Harness()
        redis("SET", "k", "v", "EX", "100")
        redis("GET", "k")
        redis("GET", "missing")
        guard case .bulk(let bytes) = redis("INFO") else {
            Issue.record("INFO is not a bulk string")
            return
        }
        let text = String(decoding: bytes, as: UTF8.self)
        for field in [
            "redis_version:7.0.15", "roost_version:", "arch_bits:64", "process_id:", "tcp_port:",
            "keyspace_hits:1", "keyspace_misses:1", "db0:keys=1,expires=1", "used_memory:",
            "connected_clients:", "# Server", "# Keyspace",
        ] {
            #expect(text.contains(field), "INFO lacks \(field)")
        }
        #expect(!text.contains("cmdstat_get"), "commandstats is not a default section")
        guard case .bulk(let stats) = redis("INFO", "commandstats") else { return }
        #expect(String(decoding: stats, as: UTF8.self).contains("cmdstat_get:calls=2"))
    }

    @Test func configGetAndSet() {
        var redis = Harness()
        #expect(redis("CONFIG", "SET", "timeout", "30") == .ok)
        #expect(redis("CONFIG", "GET", "timeout") == .array([.bulk("timeout"), .bulk("30")]))
        #expect(
            redis("CONFIG", "SET", "nosuch", "1")
                == .error(
                    "ERR Unknown option or number of arguments for CONFIG SET - 'nosuch'"))
        #expect(redis("CONFIG", "RESETSTAT") == .ok)
    }

    @Test func outputBufferLimitsParseAndRenderAsRedis() {
        var redis = Harness()
        let name = "client-output-buffer-limit"
        #expect(
            redis("CONFIG", "GET", name)
                == .array([
                    .bulk(name), .bulk("normal 268435456 0 0 slave 268435456 67108864 60 pubsub 33554432 8388608 60"),
                ]))
        #expect(redis("CONFIG", "SET", name, "normal 1mb 2kb 3 replica 0 0 0") == .ok)
        #expect(redis.server.currentConfiguration.outputBufferLimits.normal.hard == 1 << 20)
        #expect(
            redis("CONFIG", "GET", name)
                == .array([
                    .bulk(name), .bulk("normal 1048576 2048 3 slave 0 0 0 pubsub 33554432 8388608 60"),
                ]))
        #expect(
            redis("CONFIG", "SET", name, "normal 1mb 0")
                == .error(
                    "ERR CONFIG SET failed (possibly related to argument '\(name)') - Wrong number of arguments in buffer "
                        + "limit configuration."))
        #expect(
            redis("CONFIG", "SET", name, "bogus 1 0 0")
                == .error(
                    "ERR CONFIG SET failed (possibly related to argument '\(name)') - Invalid client class specified in "
                        + "buffer limit configuration."))
    }

    @Test func commandIntrospectionComesFromTheTable() {
        var redis = Harness()
        #expect(redis("COMMAND", "COUNT") == .integer(Int64(CommandTable.standard.commands.count)))
        #expect(redis("COMMAND", "GETKEYS", "MSET", "a", "1", "b", "2") == .strings(["a", "b"]))
        #expect(redis("COMMAND", "GETKEYS", "PING") == .error("ERR The command has no key arguments"))
        #expect(redis("COMMAND", "GETKEYS", "NOPE") == .error("ERR Invalid command specified"))
        guard case .array(let info) = redis("COMMAND", "INFO", "get", "nope"), info.count == 2 else {
            Issue.record("COMMAND INFO shape")
            return
        }
        guard case .array(let get) = info[0] else { return }
        #expect(get[0] == .bulk("get"))
        #expect(get[1] == .integer(2))
        #expect(info[1] == .null)
    }

    @Test func everyCommandHasAHandlerOrSubcommands() {
        for command in CommandTable.standard.commands {
            #expect(command.handler != nil || !command.subcommands.isEmpty, "\(command.name)")
            for sub in command.subcommands { #expect(sub.handler != nil, "\(sub.fullName)") }
        }
    }

    /// `docs/COMMANDS.md` embeds the generated table; regenerate with `scripts/gen-commands-doc`.
    @Test func commandsDocumentMatchesTheTable() throws {
        let path = #filePath.split(separator: "/").dropLast(3).joined(separator: "/")
        let document = try String(contentsOfFile: "/" + path + "/docs/COMMANDS.md", encoding: .utf8)
        #expect(
            document.contains(CommandTable.standard.markdown()),
            "docs/COMMANDS.md is stale: run scripts/gen-commands-doc")
    }

    @Test func clientListShowsThisConnection() {
        var redis = Harness()
        redis("CLIENT", "SETNAME", "tester")
        redis.server.clients.withLock { $0[redis.context.session.id] = redis.context.session }
        guard case .bulk(let bytes) = redis("CLIENT", "LIST") else {
            Issue.record("CLIENT LIST is not a bulk string")
            return
        }
        let text = String(decoding: bytes, as: UTF8.self)
        #expect(text.hasPrefix("id=1 "))
        #expect(text.contains(" name=tester "))
        #expect(redis("CLIENT", "ID") == .integer(1))
        #expect(redis("CLIENT", "KILL", "ID", "999") == .integer(0))
    }
}
