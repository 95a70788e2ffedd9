//! The generated bindings for `wit/v0.2/connector.wit`. Private to the runtime: the rest of the host
//! sees the re-exports in [`super::wit`].

wasmtime::component::bindgen!({
    world: "plugin",
    path: "../wit/v0.2",
    imports: { default: async | trappable },
    exports: { default: async },
    additional_derives: [PartialEq],
});
