//! The generated bindings for `wit/connector.wit`. Private to the runtime: the rest of the host
//! sees the re-exports in [`super::wit`].

wasmtime::component::bindgen!({
    world: "plugin",
    path: "../wit",
    imports: { default: async | trappable },
    exports: { default: async },
    additional_derives: [PartialEq],
});
