#![allow(clippy::unwrap_used)]

use std::collections::{BTreeMap, HashSet};

use super::*;

fn person(fields: &[(&str, FieldValue)]) -> Person {
    Person {
        id: "emp-42".into(),
        status: Lifecycle::Active,
        source_status: "employed".into(),
        facts: Default::default(),
        fields: fields
            .iter()
            .map(|(k, v)| ((*k).to_owned(), v.clone()))
            .collect(),
        raw: None,
        complete: true,
    }
    .lift_facts()
}

fn text(s: &str) -> FieldValue {
    FieldValue::Text(s.into())
}

fn jose() -> Person {
    person(&[("first_name", text("José")), ("last_name", text("Müller"))])
}

fn config(rules: &[(&str, AttributeRule)]) -> MappingConfig {
    MappingConfig {
        attributes: rules
            .iter()
            .map(|(k, v)| ((*k).to_owned(), v.clone()))
            .collect(),
    }
}

fn mapper(rules: &[(&str, AttributeRule)]) -> Mapper {
    Mapper::new(&config(rules)).expect("config compiles")
}

/// Renders one plain template for `p` (as a new account).
fn render(template: &str, p: &Person) -> Option<String> {
    let m = mapper(&[("x", AttributeRule::template(template))]);
    m.map(p, None)
        .expect("renders")
        .values
        .get("x")
        .cloned()
        .flatten()
}

fn existing() -> ExistingEntry {
    ExistingEntry::new([("sAMAccountName", vec!["jmuller".to_owned()])])
}

fn sam_rule() -> AttributeRule {
    AttributeRule {
        max_len: Some(20),
        apply: Apply::OnCreate,
        ..AttributeRule::unique([
            "{{ first_name|ascii|lower }}.{{ last_name|ascii|lower }}",
            "{{ first_name|ascii|lower|first }}{{ last_name|ascii|lower }}",
            "{{ first_name|ascii|lower }}.{{ last_name|ascii|lower }}{{ n }}",
        ])
    }
}

#[test]
fn the_documented_toml_example_compiles_and_maps() {
    #[derive(serde::Deserialize)]
    struct Root {
        mapping: MappingConfig,
    }
    let root: Root = toml::from_str(
        r#"
[mapping.attributes]
givenName = "{{ first_name }}"
sn = "{{ last_name }}"
displayName = { template = "{{ first_name }} {{ last_name }}", apply = "always" }
sAMAccountName = { unique = ["{{ first_name|ascii|lower }}.{{ last_name|ascii|lower }}", "{{ first_name|ascii|lower|first }}{{ last_name|ascii|lower }}", "{{ first_name|ascii|lower }}.{{ last_name|ascii|lower }}{{ n }}"], max_len = 20, apply = "on-create" }
employeeType = { template = "{{ type }}", when = "type == 'contractor'" }
description = { template = "{{ job_title }}", blank = "clear" }
"#,
    )
    .expect("toml");
    let m = Mapper::new(&root.mapping).expect("compiles");
    let out = m.map(&jose(), None).expect("maps");
    let want: BTreeMap<String, Option<String>> = [
        ("givenName", Some("José")),
        ("sn", Some("Müller")),
        ("displayName", Some("José Müller")),
        ("description", None),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.map(str::to_owned)))
    .collect();
    assert_eq!(out.values, want);
    assert_eq!(out.unique.len(), 1);
    assert_eq!(out.unique[0].attribute, "sAMAccountName");
    assert_eq!(
        out.unique[0].candidates[..4],
        ["jose.muller", "jmuller", "jose.muller2", "jose.muller3"]
    );
    let names: Vec<&str> = m.attributes().collect();
    assert_eq!(names.len(), 6);
    assert!(names.contains(&"sAMAccountName"));
}

#[test]
fn plain_templates_keep_special_characters_but_not_stray_whitespace() {
    let odd = r#"  Smith, John+Jr="\<x>;#*() "#;
    let p = person(&[
        ("last_name", text(odd)),
        ("first_name", text(" Ann\u{200B}")),
    ]);
    let kept = r#"Smith, John+Jr="\<x>;#*()"#;
    assert_eq!(render("{{ last_name }}", &p).as_deref(), Some(kept));
    assert_eq!(render("{{ first_name }}", &p).as_deref(), Some("Ann"));
    // No HTML escaping either.
    assert_eq!(
        render("{{ first_name }} & {{ last_name }}", &p),
        Some(format!("Ann & {kept}"))
    );
    // A field that is empty once cleaned is undefined: `default` applies.
    let blank = person(&[("department", text(" \t\u{200B}"))]);
    assert_eq!(
        render("{{ department|default('Unassigned') }}", &blank).as_deref(),
        Some("Unassigned")
    );
}

#[test]
fn ascii_filter_in_templates() {
    let cases = [
        ("Zoë Ångström", "Zoe Angstrom"),
        ("Łukasz Żółć", "Lukasz Zolc"),
        ("Nguyễn", "Nguyen"),
        ("Şükrü Öztürk", "Sukru Ozturk"),
        ("Ægir Ólafsdóttir", "AEgir Olafsdottir"),
        ("Miłosz Świętochowski", "Milosz Swietochowski"),
        ("Đặng Thị Hương", "Dang Thi Huong"),
        ("Ντίνος", "Ntinos"),
    ];
    for (name, want) in cases {
        let p = person(&[("name", text(name))]);
        assert_eq!(
            render("{{ name|ascii }}", &p).as_deref(),
            Some(want),
            "{name}"
        );
    }
    let p = person(&[("name", text(" Ana María de la Peña, Jr. "))]);
    assert_eq!(
        render("{{ name|ascii|lower|samsafe }}", &p).as_deref(),
        Some("anamariadelapenajr.")
    );
}

#[test]
fn on_create_only_for_new_accounts_always_for_both() {
    let m = mapper(&[
        (
            "mail",
            AttributeRule {
                apply: Apply::OnCreate,
                ..AttributeRule::template("{{ first_name|ascii|lower }}@example.com")
            },
        ),
        ("sAMAccountName", sam_rule()),
        ("givenName", AttributeRule::template("{{ first_name }}")),
    ]);
    let new = m.map(&jose(), None).expect("maps");
    assert_eq!(new.values["mail"].as_deref(), Some("jose@example.com"));
    assert_eq!(new.values["givenName"].as_deref(), Some("José"));
    assert_eq!(new.unique.len(), 1);

    let old = m.map(&jose(), Some(&existing())).expect("maps");
    assert!(!old.values.contains_key("mail"));
    assert_eq!(old.values["givenName"].as_deref(), Some("José"));
    assert!(old.unique.is_empty());
}

#[test]
fn blank_keep_produces_nothing_and_clear_produces_none() {
    let m = mapper(&[
        ("keep", AttributeRule::template("{{ job_title }}")),
        (
            "clear",
            AttributeRule {
                blank: Blank::Clear,
                ..AttributeRule::template("{{ job_title }}")
            },
        ),
    ]);
    for p in [
        person(&[]),
        person(&[("job_title", FieldValue::Null)]),
        person(&[("job_title", text(""))]),
        person(&[("job_title", text("  \t "))]),
    ] {
        let out = m.map(&p, Some(&existing())).expect("maps");
        assert!(!out.values.contains_key("keep"), "{p:?}");
        assert_eq!(out.values.get("clear"), Some(&None), "{p:?}");
    }
    let p = person(&[("job_title", text("Engineer"))]);
    let out = m.map(&p, Some(&existing())).expect("maps");
    assert_eq!(out.values["keep"].as_deref(), Some("Engineer"));
    assert_eq!(out.values["clear"].as_deref(), Some("Engineer"));
}

#[test]
fn when_conditions_decide_whether_the_attribute_is_managed() {
    let m = mapper(&[
        (
            "employeeType",
            AttributeRule {
                when: Some("type == 'contractor'".into()),
                ..AttributeRule::template("{{ type }}")
            },
        ),
        (
            "department",
            AttributeRule {
                when: Some("status == 'active' and department is defined".into()),
                blank: Blank::Clear,
                ..AttributeRule::template("{{ department }}")
            },
        ),
    ]);
    let contractor = person(&[("type", text("contractor")), ("department", text("R&D"))]);
    let out = m.map(&contractor, None).expect("maps");
    assert_eq!(out.values["employeeType"].as_deref(), Some("contractor"));
    assert_eq!(out.values["department"].as_deref(), Some("R&D"));

    let employee = person(&[("type", text("employee"))]);
    let out = m.map(&employee, None).expect("maps");
    assert!(out.values.is_empty(), "{:?}", out.values);

    let mut leaver = contractor.clone();
    leaver.status = Lifecycle::Terminated;
    let out = m.map(&leaver, None).expect("maps");
    assert!(!out.values.contains_key("department"));
}

#[test]
fn condition_failure_names_attribute_and_person() {
    let m = mapper(&[(
        "x",
        AttributeRule {
            when: Some("probation_end|date('%Y') == '2024'".into()),
            ..AttributeRule::template("y")
        },
    )]);
    let p = person(&[("probation_end", text("soon"))]);
    match m.map(&p, None) {
        Err(MappingError::Condition {
            person_id,
            attribute,
            condition,
            message,
        }) => {
            assert_eq!(person_id, "emp-42");
            assert_eq!(attribute, "x");
            assert_eq!(condition, "probation_end|date('%Y') == '2024'");
            assert!(message.contains("soon"), "{message}");
        }
        other => panic!("expected condition error, got {other:?}"),
    }
}

#[test]
fn raw_json_paths_and_builtin_context() {
    let mut p = person(&[
        ("first_name", text("Ann")),
        ("status", text("field-status")),
        ("home phone", text("+44 1")),
        (
            "skills",
            FieldValue::TextList(vec!["rust".into(), "ldap".into()]),
        ),
        ("grade", FieldValue::Integer(7)),
        ("fte", FieldValue::Number(0.5)),
        ("manager", FieldValue::Boolean(true)),
        ("start_date", FieldValue::Date("2024-03-07".into())),
    ]);
    p.status = Lifecycle::PreHire;
    p.raw = Some(serde_json::json!({
        "country": { "alpha_2_code": "pt", "name": "Portugal" },
        "employee_number": 1234,
        "middle_name": null,
        "emails": [ { "address": "ann@example.com" } ],
    }));
    let cases = [
        ("{{ raw.country.alpha_2_code|upper }}", "PT"),
        ("{{ raw.employee_number }}", "1234"),
        ("{{ raw.emails[0].address }}", "ann@example.com"),
        (
            "[{{ raw.middle_name }}][{{ raw.nope.deeper.still }}]",
            "[][]",
        ),
        ("{{ raw.middle_name|default('-') }}", "-"),
        (
            "{{ id }}|{{ status }}|{{ source_status }}",
            "emp-42|pre-hire|employed",
        ),
        ("{{ person.status }}", "field-status"),
        (
            "{{ person.first_name }} {{ person['home phone'] }}",
            "Ann +44 1",
        ),
        ("{{ skills|join(', ') }}", "rust, ldap"),
        ("{{ grade + 1 }} {{ fte }} {{ manager }}", "8 0.5 True"),
        ("{{ 'TRUE' if manager else 'FALSE' }}", "TRUE"),
        ("{{ start_date }}", "2024-03-07"),
        ("[{{ n }}]", "[]"),
    ];
    for (template, want) in cases {
        assert_eq!(render(template, &p).as_deref(), Some(want), "{template}");
    }
    p.raw = None;
    assert_eq!(
        render("[{{ raw.country.alpha_2_code }}]", &p).as_deref(),
        Some("[]")
    );
}

#[test]
fn missing_and_null_fields_render_empty_through_filters() {
    let p = person(&[
        ("middle_name", FieldValue::Null),
        ("last_name", text("Doe")),
    ]);
    let cases = [
        "{{ middle_name }}",
        "{{ middle_name|lower }}",
        "{{ middle_name|upper|trim }}",
        "{{ middle_name|title }}",
        "{{ middle_name|capitalize }}",
        "{{ middle_name|replace('a', 'b') }}",
        "{{ middle_name|ascii|samsafe|initials|first }}",
        "{{ middle_name|last }}",
        "{{ middle_name|first_word }}{{ middle_name|last_word }}",
        "{{ middle_name|split('-')|join('.') }}",
        "{{ middle_name|truncate(3) }}",
        "{{ middle_name|date('%Y') }}",
        "{{ nickname|lower }}",
        "{{ nickname ~ '' }}",
        "{{ none }}",
    ];
    for template in cases {
        let m = mapper(&[(
            "x",
            AttributeRule {
                blank: Blank::Clear,
                ..AttributeRule::template(template)
            },
        )]);
        let out = m.map(&p, None).expect("renders");
        assert_eq!(out.values.get("x"), Some(&None), "{template}");
    }
    assert_eq!(
        render("{{ middle_name|default('X') }}. {{ last_name }}", &p).as_deref(),
        Some("X. Doe")
    );
    assert_eq!(
        render("{{ (last_name ~ ' ' ~ middle_name)|trim }}", &p).as_deref(),
        Some("Doe")
    );
}

#[test]
fn string_filters_in_templates() {
    let p = person(&[
        ("full_name", text("Maria da Graça Meneghel")),
        ("start_date", FieldValue::Date("2024-03-07".into())),
        ("code", text("a-b-c")),
    ]);
    let cases = [
        ("{{ full_name|initials }}", "MDGM"),
        ("{{ full_name|first_word }}", "Maria"),
        ("{{ full_name|last_word }}", "Meneghel"),
        ("{{ full_name|first }}", "M"),
        ("{{ full_name|truncate(8) }}", "Maria da"),
        ("{{ full_name|truncate(100) }}", "Maria da Graça Meneghel"),
        ("{{ code|split('-')|join('') }}", "abc"),
        ("{{ (code|split('-'))[-1] }}", "c"),
        ("{{ full_name|split|length }}", "4"),
        ("{{ start_date|date('%d/%m/%Y') }}", "07/03/2024"),
        ("{{ start_date|date('%B %-d, %Y') }}", "March 7, 2024"),
        ("{{ code|replace('-', '_')|upper }}", "A_B_C"),
    ];
    for (template, want) in cases {
        assert_eq!(render(template, &p).as_deref(), Some(want), "{template}");
    }
}

#[test]
fn render_error_names_person_attribute_and_template() {
    let m = mapper(&[(
        "accountExpires",
        AttributeRule::template("{{ contract_end|date('%Y') }}"),
    )]);
    let p = person(&[("contract_end", text("31/12/2024"))]);
    match m.map(&p, None) {
        Err(e @ MappingError::Render { .. }) => {
            let shown = e.to_string();
            assert!(shown.contains("accountExpires"), "{shown}");
            assert!(shown.contains("emp-42"), "{shown}");
            assert!(shown.contains("{{ contract_end|date('%Y') }}"), "{shown}");
            assert!(shown.contains("31/12/2024"), "{shown}");
        }
        other => panic!("expected render error, got {other:?}"),
    }
}

#[test]
fn max_len_cuts_values_to_characters() {
    let p = person(&[
        ("first_name", text("Maximiliáno-Alexandró")),
        ("last_name", text("Vandenberghe-Østergaard")),
    ]);
    let m = mapper(&[
        ("sAMAccountName", sam_rule()),
        (
            "cn",
            AttributeRule {
                max_len: Some(20),
                ..AttributeRule::template("{{ first_name }} {{ last_name }}")
            },
        ),
    ]);
    let out = m.map(&p, None).expect("maps");
    assert_eq!(out.values["cn"].as_deref(), Some("Maximiliáno-Alexandr"));
    let c = &out.unique[0].candidates;
    assert!(c.iter().all(|c| c.chars().count() <= 20), "{c:?}");
    assert_eq!(c[0], "maximiliano-alexandr");
    assert_eq!(c[1], "mvandenberghe-osterg");
    // Numbered candidates keep their counter.
    assert_eq!(c[2], "maximiliano-alexand2");
    assert_eq!(c[3], "maximiliano-alexand3");
    assert_eq!(c.last().map(String::as_str), Some("maximiliano-alexan99"));
    assert_eq!(c.len(), 2 + 98);
}

#[test]
fn unique_candidates_fall_back_in_order() {
    let m = mapper(&[("sAMAccountName", sam_rule())]);
    let all: Vec<String> = m
        .unique_candidates("samaccountname", &jose())
        .expect("unique attribute")
        .collect::<Result<_, _>>()
        .expect("renders");
    assert_eq!(
        all[..5],
        [
            "jose.muller",
            "jmuller",
            "jose.muller2",
            "jose.muller3",
            "jose.muller4"
        ]
    );
    assert_eq!(all.last().map(String::as_str), Some("jose.muller99"));
    assert_eq!(all.len(), 2 + 98);
    let distinct: HashSet<&String> = all.iter().collect();
    assert_eq!(distinct.len(), all.len());

    // Duplicates and blanks are skipped: a person with no first name.
    let p = person(&[("last_name", text("Li"))]);
    let got: Vec<String> = m
        .unique_candidates("sAMAccountName", &p)
        .expect("unique attribute")
        .take(3)
        .collect::<Result<_, _>>()
        .expect("renders");
    assert_eq!(got, [".li", "li", ".li2"]);

    assert!(matches!(
        m.unique_candidates("givenName", &p),
        Err(MappingError::InvalidRule { .. })
    ));
}

#[test]
fn unique_duplicates_are_case_insensitive() {
    let m = mapper(&[(
        "uid",
        AttributeRule::unique([
            "{{ first_name }}",
            "{{ first_name|lower }}",
            "{{ first_name|lower }}{{ n }}",
        ]),
    )]);
    let p = person(&[("first_name", text("Ann"))]);
    let got: Vec<String> = m
        .unique_candidates("uid", &p)
        .expect("unique")
        .take(2)
        .collect::<Result<_, _>>()
        .expect("renders");
    assert_eq!(got, ["Ann", "ann2"]);
}

#[tokio::test]
async fn resolve_unique_takes_the_first_free_candidate() {
    let m = mapper(&[("sAMAccountName", sam_rule())]);
    let taken: HashSet<&str> = ["jose.muller", "jmuller", "jose.muller2"].into();
    let mut asked = Vec::new();
    let got = resolve_unique(
        "sAMAccountName",
        m.unique_candidates("sAMAccountName", &jose())
            .expect("unique"),
        |c: String| {
            asked.push(c.clone());
            let t = taken.contains(c.as_str());
            async move { Ok::<_, std::io::Error>(t) }
        },
    )
    .await
    .expect("a free name");
    assert_eq!(got, "jose.muller3");
    assert_eq!(
        asked,
        ["jose.muller", "jmuller", "jose.muller2", "jose.muller3"]
    );

    // Same through the request produced by `map`.
    let out = m.map(&jose(), None).expect("maps");
    let got = out.unique[0]
        .resolve(|c| {
            let t = taken.contains(c.as_str());
            async move { Ok::<_, String>(t) }
        })
        .await
        .expect("a free name");
    assert_eq!(got, "jose.muller3");
}

#[tokio::test]
async fn resolve_unique_reports_exhaustion_and_lookup_errors() {
    let m = mapper(&[("sAMAccountName", sam_rule())]);
    let out = m.map(&jose(), None).expect("maps");
    match out.unique[0]
        .resolve(|_| async { Ok::<_, String>(true) })
        .await
    {
        Err(e @ MappingError::UniqueExhausted { .. }) => {
            let shown = e.to_string();
            let MappingError::UniqueExhausted { attribute, tried } = e else {
                unreachable!()
            };
            assert_eq!(attribute, "sAMAccountName");
            assert_eq!(tried.len(), 100);
            assert_eq!(tried[0], "jose.muller");
            assert_eq!(tried[99], "jose.muller99");
            assert!(
                shown.contains("sAMAccountName") && shown.contains("95 more"),
                "{shown}"
            );
        }
        other => panic!("expected exhaustion, got {other:?}"),
    }

    let none: Vec<String> = Vec::new();
    assert!(matches!(
        resolve_unique("uid", none, |_| async { Ok::<_, String>(false) }).await,
        Err(MappingError::UniqueExhausted { tried, .. }) if tried.is_empty()
    ));

    match resolve_unique("uid", ["a", "b"], |_| async { Err::<bool, _>("ldap down") }).await {
        Err(MappingError::Lookup {
            attribute,
            candidate,
            source,
        }) => {
            assert_eq!(attribute, "uid");
            assert_eq!(candidate, "a");
            assert_eq!(source.to_string(), "ldap down");
        }
        other => panic!("expected lookup error, got {other:?}"),
    }
}

#[test]
fn syntax_errors_name_the_attribute_template_and_position() {
    let err = Mapper::new(&config(&[
        ("givenName", AttributeRule::template("{{ first_name }}")),
        ("sn", AttributeRule::template("{{ last_name ")),
    ]))
    .expect_err("syntax error");
    match &err {
        MappingError::Syntax {
            attribute,
            template,
            message,
        } => {
            assert_eq!(attribute, "sn");
            assert_eq!(template, "{{ last_name ");
            assert!(message.contains("syntax error"), "{message}");
            assert!(message.contains("line 1, column"), "{message}");
        }
        other => panic!("expected syntax error, got {other:?}"),
    }
    assert!(err.to_string().contains("`sn`"), "{err}");

    let err = Mapper::new(&config(&[(
        "uid",
        AttributeRule::unique(["{{ a }}", "x\n{% if %}"]),
    )]))
    .expect_err("syntax error");
    assert!(
        matches!(&err, MappingError::Syntax { attribute, message, .. } if attribute == "uid" && message.contains("line 2")),
        "{err:?}"
    );

    let err = Mapper::new(&config(&[(
        "employeeType",
        AttributeRule {
            when: Some("type == ".into()),
            ..AttributeRule::template("x")
        },
    )]))
    .expect_err("syntax error");
    assert!(
        matches!(&err, MappingError::Syntax { attribute, template, message } if attribute == "employeeType" && template == "type == " && message.contains("when")),
        "{err:?}"
    );
    // A condition must be a single expression, not a template fragment.
    assert!(
        Mapper::new(&config(&[(
            "x",
            AttributeRule {
                when: Some("a) %}{% if (b".into()),
                ..AttributeRule::template("x")
            },
        )]))
        .is_err()
    );
}

#[test]
fn unknown_filters_are_reported_at_load() {
    let err = Mapper::new(&config(&[(
        "givenName",
        AttributeRule::template("{{ first_name|lowr }}"),
    )]))
    .expect_err("unknown filter");
    assert!(
        matches!(&err, MappingError::Syntax { attribute, template, message }
            if attribute == "givenName" && template == "{{ first_name|lowr }}" && message.contains("lowr")),
        "{err:?}"
    );
    let err = Mapper::new(&config(&[(
        "x",
        AttributeRule {
            when: Some("type is contractr".into()),
            ..AttributeRule::template("x")
        },
    )]))
    .expect_err("unknown test");
    assert!(
        matches!(&err, MappingError::Syntax { attribute, template, .. } if attribute == "x" && template == "type is contractr"),
        "{err:?}"
    );
}

#[test]
fn invalid_rules_and_names_are_rejected() {
    for cfg in [
        config(&[
            ("mail", AttributeRule::template("a")),
            ("Mail", AttributeRule::template("b")),
        ]),
        config(&[("bad name", AttributeRule::template("a"))]),
        config(&[("", AttributeRule::template("a"))]),
        config(&[(
            "x",
            AttributeRule {
                unique: Some(vec!["a".into()]),
                ..AttributeRule::template("a")
            },
        )]),
        config(&[("x", AttributeRule::unique(Vec::<String>::new()))]),
    ] {
        assert!(
            matches!(Mapper::new(&cfg), Err(MappingError::InvalidRule { .. })),
            "{cfg:?}"
        );
    }
}

#[test]
fn reserved_names_win_and_fields_stay_reachable_via_person() {
    let p = person(&[("id", text("field-id")), ("n", text("field-n"))]);
    assert_eq!(
        render("{{ id }}/{{ person.id }}", &p).as_deref(),
        Some("emp-42/field-id")
    );
    assert_eq!(
        render("[{{ n }}]/{{ person.n }}", &p).as_deref(),
        Some("[]/field-n")
    );
}

#[test]
fn existing_entry_is_case_insensitive() {
    let e = ExistingEntry::new([
        ("sAMAccountName", vec!["jdoe".to_owned()]),
        ("MAIL", vec!["a@x".to_owned()]),
        ("mail", vec!["b@x".to_owned()]),
    ]);
    assert_eq!(e.first("samaccountname"), Some("jdoe"));
    assert_eq!(e.get("Mail").map(<[String]>::len), Some(2));
    assert_eq!(e.get("cn"), None);
    let from_map: ExistingEntry = BTreeMap::from([("CN".to_owned(), vec!["x".to_owned()])]).into();
    assert_eq!(from_map.first("cn"), Some("x"));
}

#[test]
fn person_accessors_and_serde() {
    let p = person(&[
        ("first_name", text("Ann")),
        ("start_date", FieldValue::Date("2024-01-02".into())),
        ("grade", FieldValue::Integer(3)),
    ]);
    assert_eq!(p.text("first_name"), Some("Ann"));
    assert_eq!(p.text("start_date"), Some("2024-01-02"));
    assert_eq!(p.text("grade"), None);
    assert_eq!(p.field("grade"), Some(FieldValue::Integer(3)));
    assert_eq!(p.field("nope"), None);
    let json = serde_json::to_value(&p).expect("serialize");
    assert_eq!(json["status"], "active");
    assert_eq!(
        json["fields"]["grade"],
        serde_json::json!({"type": "integer", "value": 3})
    );
    assert_eq!(
        serde_json::to_value(FieldValue::TextList(vec!["a".into()])).expect("serialize"),
        serde_json::json!({"type": "text-list", "value": ["a"]})
    );
    assert_eq!(
        serde_json::to_value(Lifecycle::PreHire).expect("serialize"),
        serde_json::json!("pre-hire")
    );
    let back: Person = serde_json::from_value(json).expect("deserialize");
    assert_eq!(back, p);
}

#[test]
fn a_cut_never_ends_with_a_separator() {
    let mut cfg = MappingConfig::default();
    let mut rule = AttributeRule::unique([
        "{{ first_name|ascii|lower|samsafe }}.{{ last_name|ascii|lower|samsafe }}",
    ]);
    rule.max_len = Some(20);
    cfg.attributes.insert("sAMAccountName".into(), rule);
    let mapper = Mapper::new(&cfg).expect("compiles");
    let p = person(&[
        ("first_name", text("Venkata Subrahmanyam")),
        ("last_name", text("Ramanathan")),
    ]);
    let m = mapper.map(&p, None).expect("maps");
    assert_eq!(m.unique[0].candidates[0], "venkatasubrahmanyam");
}
