import DNSResolver
import SMTPServer
import TOMLKit

extension TableReader {
    /// `[delivery]`; see `DeliverySettings`.
    func readDelivery(_ table: TOMLTable) throws(ConfigurationError) -> DeliverySettings {
        try checkKeys(
            table,
            allowed: [
                "nameservers", "dns_timeout", "port", "smarthost", "tls", "retry_initial", "retry_maximum", "lifetime",
                "concurrency", "greeting_timeout", "command_timeout", "data_timeout", "data_end_timeout",
                "connect_timeout", "smarthost_user", "smarthost_password_file", "trusted_networks",
                "connection_cache_time", "delay_warning",
            ],
            prefix: "delivery.")
        var settings = DeliverySettings()
        if let value = table["nameservers"] {
            let list: [String]
            if let one = value.string { list = [one] } else { list = try strings(value, "delivery.nameservers") }
            for (index, server) in list.enumerated() where ResolverConfiguration.nameserver(server) == nil {
                throw fail("delivery.nameservers[\(index)]", "\"\(server)\" is not an IP address with an optional port")
            }
            settings.nameservers = list
        }
        settings.dnsTimeout =
            try seconds(table, "dns_timeout", "delivery.dns_timeout", range: 0.01...300) ?? settings.dnsTimeout
        settings.port = try integer(table, "port", "delivery.port", range: 1...65535) ?? settings.port
        if let smarthost = try string(table, "smarthost", "delivery.smarthost") {
            guard let parsed = ListenAddress(parsing: smarthost), parsed.port > 0 else {
                throw fail("delivery.smarthost", "\"\(smarthost)\" is not HOST:PORT")
            }
            settings.smarthost = smarthost
        }
        if let value = table["trusted_networks"] {
            for (index, text) in try strings(value, "delivery.trusted_networks").enumerated() {
                guard let network = NetworkPrefix(text) else {
                    throw fail("delivery.trusted_networks[\(index)]", "\"\(text)\" is not an address or ADDRESS/LENGTH")
                }
                settings.trustedNetworks.append(network)
            }
        }
        settings.smarthostUser = try string(table, "smarthost_user", "delivery.smarthost_user")
        settings.smarthostPasswordFile = try string(
            table, "smarthost_password_file", "delivery.smarthost_password_file")
        if (settings.smarthostUser == nil) != (settings.smarthostPasswordFile == nil) {
            throw fail(
                settings.smarthostUser == nil ? "delivery.smarthost_password_file" : "delivery.smarthost_user",
                "smarthost_user and smarthost_password_file go together")
        }
        if settings.smarthostUser != nil && settings.smarthost == nil {
            throw fail("delivery.smarthost_user", "needs delivery.smarthost")
        }
        if let tls = try string(table, "tls", "delivery.tls") {
            guard ["none", "opportunistic", "required"].contains(tls) else {
                throw fail("delivery.tls", "must be \"none\", \"opportunistic\" or \"required\", not \"\(tls)\"")
            }
            settings.tls = tls
        }
        if settings.smarthostUser != nil && settings.tls == "none" {
            throw fail("delivery.tls", "\"none\" would send the smarthost password in the clear")
        }
        let long = 0.01...(365.0 * 86_400)
        settings.retryInitial =
            try seconds(table, "retry_initial", "delivery.retry_initial", range: long) ?? settings.retryInitial
        settings.retryMaximum =
            try seconds(table, "retry_maximum", "delivery.retry_maximum", range: long) ?? settings.retryMaximum
        settings.lifetime = try seconds(table, "lifetime", "delivery.lifetime", range: long) ?? settings.lifetime
        if settings.retryMaximum < settings.retryInitial {
            throw fail("delivery.retry_maximum", "must not be less than delivery.retry_initial")
        }
        settings.delayWarning =
            try seconds(table, "delay_warning", "delivery.delay_warning", range: 0...(365.0 * 86_400))
            ?? settings.delayWarning
        settings.connectionCacheTime =
            try seconds(table, "connection_cache_time", "delivery.connection_cache_time", range: 0...3600)
            ?? settings.connectionCacheTime
        settings.concurrency =
            try integer(table, "concurrency", "delivery.concurrency", range: 1...1000) ?? settings.concurrency
        let timeout = 0.01...86_400.0
        settings.greetingTimeout =
            try seconds(table, "greeting_timeout", "delivery.greeting_timeout", range: timeout)
            ?? settings.greetingTimeout
        settings.commandTimeout =
            try seconds(table, "command_timeout", "delivery.command_timeout", range: timeout) ?? settings.commandTimeout
        settings.dataTimeout =
            try seconds(table, "data_timeout", "delivery.data_timeout", range: timeout) ?? settings.dataTimeout
        settings.dataEndTimeout =
            try seconds(table, "data_end_timeout", "delivery.data_end_timeout", range: timeout)
            ?? settings.dataEndTimeout
        settings.connectTimeout =
            try seconds(table, "connect_timeout", "delivery.connect_timeout", range: timeout) ?? settings.connectTimeout
        return settings
    }
}
