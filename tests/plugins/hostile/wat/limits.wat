;; A hostile core module for what a Rust plugin cannot do: grow a table without end, or hold
;; several linear memories. The runtime tests wrap it into a component for
;; hrsync:connector@0.2.0 (wit-component), adding memories and tables at the EXTRA marker and
;; imports at the IMPORTS marker (functions of adapter modules: one more instance each).
;;
;; `get-person` reads the id's first byte:
;;   `t` grows the table by 65,536 elements at a time until refused, then traps;
;;   `m` grows the main memory and the second memory by 20 MiB each, then traps.
;; Every other export traps at once.
(module
  ;; IMPORTS
  (memory (export "memory") 1)
  (memory $second 0)
  (table $t 0 funcref)
  ;; EXTRA
  (global $heap (mut i32) (i32.const 1024))

  ;; A bump allocator: enough for the host to pass an id in.
  (func (export "cabi_realloc") (param i32 i32 i32 i32) (result i32)
    (local $p i32)
    (local.set $p
      (i32.and
        (i32.add (global.get $heap) (i32.sub (local.get 2) (i32.const 1)))
        (i32.sub (i32.const 0) (local.get 2))))
    (global.set $heap (i32.add (local.get $p) (local.get 3)))
    (local.get $p))

  (func (export "hrsync:connector/connector@0.2.0#get-person") (param $ptr i32) (param $len i32) (result i32)
    (if (i32.eq (i32.load8_u (local.get $ptr)) (i32.const 116)) ;; `t`
      (then
        (loop $grow
          (br_if $grow
            (i32.ne (table.grow $t (ref.null func) (i32.const 65536)) (i32.const -1))))
        (unreachable)))
    (if (i32.eq (i32.load8_u (local.get $ptr)) (i32.const 109)) ;; `m`
      (then
        (drop (memory.grow 0 (i32.const 320)))
        (drop (memory.grow $second (i32.const 320)))
        (unreachable)))
    (unreachable))

  (func (export "hrsync:connector/connector@0.2.0#describe") (result i32)
    (unreachable))
  (func (export "hrsync:connector/connector@0.2.0#list-people") (param i32 i32 i32) (result i32)
    (unreachable))
  (func (export "hrsync:connector/connector@0.2.0#list-changes") (param i32 i32 i32 i32 i32) (result i32)
    (unreachable))
  (func (export "hrsync:connector/connector@0.2.0#parse-webhook") (param i32 i32 i32 i32) (result i32)
    (unreachable))
  (func (export "hrsync:connector/connector@0.2.0#invoke") (param i32 i32 i32 i32) (result i32)
    (unreachable))
)
