//! A connector from the future: it exports `hrsync:connector/connector@9.9.9`.

wit_bindgen::generate!({
    inline: "
        package hrsync:connector@9.9.9;
        interface connector {
            describe: func() -> string;
        }
        world plugin {
            export connector;
        }
    ",
    world: "plugin",
});

struct Future;

impl exports::hrsync::connector::connector::Guest for Future {
    fn describe() -> String {
        "from the future".to_string()
    }
}

export!(Future);
