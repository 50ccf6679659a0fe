/// Protected mode: with no password set, only loopback clients are served.
enum ProtectedMode {
    /// The refusal sent to a non-loopback client. Clients match on the `DENIED` prefix; the wording is Roost's.
    static let deniedMessage =
        "DENIED Roost is running in protected mode: protected mode is enabled and no password is set, so only "
        + "clients on the loopback interface are accepted. To accept other clients, do one of: 1) from a loopback "
        + "client run 'CONFIG SET protected-mode no' (make sure the server is not reachable from the internet); "
        + "2) set 'protected-mode no' in the configuration file and restart; 3) restart with '--protected-mode no'; "
        + "4) set a password with 'requirepass'. Any one of these is enough."
}
