//! Static data for the workforce generator: countries with their real ISO codes, name pools with
//! the diacritics and name orders people really have, departments and job titles.

/// One country the simulated company employs people in.
pub(crate) struct CountryData {
    /// ISO 3166-1 alpha-2 code (`alpha_2_code` in Remote's JSON).
    pub alpha2: &'static str,
    /// ISO 3166-1 alpha-3 code (`code` in Remote's JSON).
    pub alpha3: &'static str,
    /// English short name, as Remote shows it.
    pub name: &'static str,
    /// Relative weight when picking a country for a generated person.
    pub weight: u32,
    /// Given names. May contain several words ("Maria da Graça").
    pub given: &'static [&'static str],
    /// Family names. Empty means people of this pool may carry a single name (mononym).
    pub family: &'static [&'static str],
    /// Whether the family name is written first (Vietnamese order).
    pub family_first: bool,
    /// A city and postal code for `work_address_details`.
    pub city: (&'static str, &'static str),
}

/// The countries, weighted roughly like a remote-first company's workforce.
pub(crate) const COUNTRIES: &[CountryData] = &[
    CountryData {
        alpha2: "US",
        alpha3: "USA",
        name: "United States",
        weight: 12,
        given: &[
            "James", "Mary", "Emily", "Michael", "Olivia", "DeShawn", "Chloé", "Mary-Kate",
            "Robert", "Jennifer", "Tyler", "Aaliyah",
        ],
        family: &[
            "Smith", "Johnson", "O'Connor", "Williams", "García", "Nguyen", "Brown", "McAllister",
            "Washington", "Davis",
        ],
        family_first: false,
        city: ("Austin", "78701"),
    },
    CountryData {
        alpha2: "GB",
        alpha3: "GBR",
        name: "United Kingdom",
        weight: 8,
        given: &[
            "Oliver", "Amelia", "Harry", "Isla", "George", "Siân", "Rhys", "Eilidh", "Callum",
        ],
        family: &[
            "Taylor", "Jones", "Evans", "Ap Rhys", "Smith-Worthington", "MacDonald", "Ó Néill",
            "Patel", "Wright",
        ],
        family_first: false,
        city: ("London", "EC1V 9HX"),
    },
    CountryData {
        alpha2: "DE",
        alpha3: "DEU",
        name: "Germany",
        weight: 8,
        given: &[
            "Jürgen", "Jörg", "Björn", "Käthe", "Lena", "Maximilian", "Günther", "Anneliese",
            "Hans-Peter", "Uwe",
        ],
        family: &[
            "Müller", "Schäfer", "Groß", "Weiß", "Köhler", "Schröder", "von Bülow", "Meyer",
            "Straßburger", "Bäcker",
        ],
        family_first: false,
        city: ("Berlin", "10115"),
    },
    CountryData {
        alpha2: "FR",
        alpha3: "FRA",
        name: "France",
        weight: 6,
        given: &[
            "Élodie", "Hélène", "François", "Jérôme", "Zoé", "Anaïs", "Noël", "Benoît", "Cécile",
            "Jean-Baptiste",
        ],
        family: &[
            "Lefèvre", "Dupré", "Bérenger", "Du Bois", "Gauthier", "Leclère", "Mercier",
            "de La Fontaine", "Bœuf",
        ],
        family_first: false,
        city: ("Paris", "75002"),
    },
    CountryData {
        alpha2: "ES",
        alpha3: "ESP",
        name: "Spain",
        weight: 6,
        given: &[
            "José", "María José", "Íñigo", "Begoña", "Álvaro", "Nuria", "Sofía", "Jesús", "Ainhoa",
        ],
        family: &[
            "García López", "Muñoz", "Núñez", "Fernández de Córdoba", "Peña", "Ibáñez",
            "Martínez Ruiz", "Echeverría",
        ],
        family_first: false,
        city: ("Madrid", "28013"),
    },
    CountryData {
        alpha2: "PT",
        alpha3: "PRT",
        name: "Portugal",
        weight: 4,
        given: &[
            "João", "Conceição", "Gonçalo", "Inês", "Maria da Graça", "Sebastião", "Leonor",
        ],
        family: &["Gonçalves", "Magalhães", "da Silva", "Simões", "Brandão", "Conceição"],
        family_first: false,
        city: ("Lisbon", "1100-148"),
    },
    CountryData {
        alpha2: "BR",
        alpha3: "BRA",
        name: "Brazil",
        weight: 6,
        given: &[
            "João Pedro", "Luíza", "Antônio", "Thaís", "Maria da Graça", "Vitória", "Caio",
            "Ana Júlia",
        ],
        family: &[
            "Souza Lima", "dos Santos", "Araújo", "Conceição", "Gonçalves", "Assunção",
            "Pereira da Costa",
        ],
        family_first: false,
        city: ("São Paulo", "01310-100"),
    },
    CountryData {
        alpha2: "PL",
        alpha3: "POL",
        name: "Poland",
        weight: 5,
        given: &[
            "Łukasz", "Małgorzata", "Wojciech", "Zofia", "Paweł", "Bartłomiej", "Grażyna", "Jędrzej",
        ],
        family: &[
            "Żółć", "Wiśniewski", "Kowalczyk", "Szczęsny", "Łęcki", "Wróbel", "Brzęczyszczykiewicz",
        ],
        family_first: false,
        city: ("Kraków", "31-042"),
    },
    CountryData {
        alpha2: "IE",
        alpha3: "IRL",
        name: "Ireland",
        weight: 3,
        given: &["Siobhán", "Seán", "Aoife", "Niamh", "Pádraig", "Caoimhe", "Oisín"],
        family: &["Ó Briain", "Mac Giolla Phádraig", "O'Sullivan", "Ó Conchúir", "Ní Mhaoláin"],
        family_first: false,
        city: ("Dublin", "D02 X285"),
    },
    CountryData {
        alpha2: "SE",
        alpha3: "SWE",
        name: "Sweden",
        weight: 3,
        given: &["Zoë", "Åsa", "Björn", "Märta", "Örjan", "Linnéa", "Måns"],
        family: &["Ångström", "Öberg", "Sjöström", "Bäckström", "Lindqvist", "Åkesson"],
        family_first: false,
        city: ("Stockholm", "111 52"),
    },
    CountryData {
        alpha2: "NO",
        alpha3: "NOR",
        name: "Norway",
        weight: 2,
        given: &["Øystein", "Bjørn", "Ingrid", "Åse", "Sølvi", "Håkon"],
        family: &["Ødegård", "Bråthen", "Kjær", "Løvås", "Næss"],
        family_first: false,
        city: ("Oslo", "0150"),
    },
    CountryData {
        alpha2: "IS",
        alpha3: "ISL",
        name: "Iceland",
        weight: 1,
        given: &["Þórunn", "Guðmundur", "Sigríður", "Ægir", "Hrafnhildur"],
        family: &["Þórsdóttir", "Guðmundsson", "Ólafsson", "Jónsdóttir"],
        family_first: false,
        city: ("Reykjavík", "101"),
    },
    CountryData {
        alpha2: "VN",
        alpha3: "VNM",
        name: "Vietnam",
        weight: 3,
        given: &["Văn An", "Thị Hương", "Minh Đức", "Quốc Bảo", "Thu Thảo", "Hoàng Long"],
        family: &["Nguyễn", "Trần", "Lê", "Phạm", "Đặng", "Hồ"],
        family_first: true,
        city: ("Hồ Chí Minh City", "700000"),
    },
    CountryData {
        alpha2: "ID",
        alpha3: "IDN",
        name: "Indonesia",
        weight: 2,
        given: &["Sukarno", "Wiranto", "Budiono", "Sutrisno", "Kartini", "Mulyani", "Dewi"],
        family: &[],
        family_first: false,
        city: ("Jakarta", "10110"),
    },
    CountryData {
        alpha2: "TR",
        alpha3: "TUR",
        name: "Turkey",
        weight: 3,
        given: &["Şükrü", "Çağla", "Gülşen", "İsmail", "Ömer", "Ayşe", "Ilgın"],
        family: &["Öztürk", "Çelik", "Şahin", "Yılmaz", "Doğan", "Güneş"],
        family_first: false,
        city: ("İstanbul", "34000"),
    },
    CountryData {
        alpha2: "CZ",
        alpha3: "CZE",
        name: "Czechia",
        weight: 2,
        given: &["Jiří", "Růžena", "Tomáš", "Kateřina", "Přemysl", "Věra"],
        family: &["Dvořák", "Nováková", "Černý", "Procházka", "Kříž", "Šťastný"],
        family_first: false,
        city: ("Praha", "110 00"),
    },
    CountryData {
        alpha2: "HU",
        alpha3: "HUN",
        name: "Hungary",
        weight: 2,
        given: &["Zoltán", "Erzsébet", "Gábor", "Ildikó", "Ödön", "Csilla"],
        family: &["Szőke", "Kovács", "Horváth", "Tóth", "Nagy", "Győri"],
        family_first: false,
        city: ("Budapest", "1051"),
    },
    CountryData {
        alpha2: "RO",
        alpha3: "ROU",
        name: "Romania",
        weight: 2,
        given: &["Ștefan", "Ioana", "Mădălina", "Răzvan", "Ionuț"],
        family: &["Popescu", "Țurcanu", "Ștefănescu", "Dumitrașcu"],
        family_first: false,
        city: ("București", "010011"),
    },
    CountryData {
        alpha2: "NL",
        alpha3: "NLD",
        name: "Netherlands",
        weight: 3,
        given: &["Maarten", "Sanne", "Anouk", "Joost", "Eline", "Sjoerd"],
        family: &["van der Berg", "de Vries", "van 't Hek", "Bakker", "van den Heuvel", "IJzerman"],
        family_first: false,
        city: ("Amsterdam", "1012 JS"),
    },
    CountryData {
        alpha2: "MX",
        alpha3: "MEX",
        name: "Mexico",
        weight: 3,
        given: &["José Luis", "Guadalupe", "Ximena", "Itzel", "Cuauhtémoc", "Renata"],
        family: &["Hernández Ruíz", "Pérez", "Ramírez", "Nuñez de Arco", "Téllez"],
        family_first: false,
        city: ("Ciudad de México", "06600"),
    },
    CountryData {
        alpha2: "IN",
        alpha3: "IND",
        name: "India",
        weight: 6,
        given: &[
            "Aarav", "Priya", "Venkata Subrahmanyam", "Lakshmi", "Rohan", "Ananya", "Sai Kiran",
        ],
        family: &[
            "Ramanathan", "Venkataraghavan Iyer", "Patel", "Chatterjee", "Reddy", "Gupta",
        ],
        family_first: false,
        city: ("Bengaluru", "560001"),
    },
    CountryData {
        alpha2: "NG",
        alpha3: "NGA",
        name: "Nigeria",
        weight: 2,
        given: &["Chukwuemeka", "Ngozi", "Oluwaseun", "Adébáyọ̀", "Ìfẹ́olúwa"],
        family: &["Okonkwo", "Adéyẹmí", "Obi", "Ọlábọ̀dé"],
        family_first: false,
        city: ("Lagos", "101241"),
    },
    CountryData {
        alpha2: "GR",
        alpha3: "GRC",
        name: "Greece",
        weight: 1,
        given: &["Γιώργος", "Ελένη", "Δημήτρης", "Σοφία"],
        family: &["Παπαδόπουλος", "Οικονόμου", "Γεωργίου"],
        family_first: false,
        city: ("Athens", "105 57"),
    },
    CountryData {
        alpha2: "UA",
        alpha3: "UKR",
        name: "Ukraine",
        weight: 1,
        given: &["Олександр", "Юлія", "Андрій", "Ірина"],
        family: &["Шевченко", "Коваленко", "Бондаренко"],
        family_first: false,
        city: ("Kyiv", "01001"),
    },
    CountryData {
        alpha2: "JP",
        alpha3: "JPN",
        name: "Japan",
        weight: 2,
        given: &["Yūki", "Shōta", "Kōji", "Haruka", "Ryōko"],
        family: &["Satō", "Itō", "Kōno", "Tanaka", "Ōtsuka"],
        family_first: false,
        city: ("Tokyo", "100-0005"),
    },
    CountryData {
        alpha2: "ZA",
        alpha3: "ZAF",
        name: "South Africa",
        weight: 1,
        given: &["Thabo", "Nomvula", "Pieter", "Lerato", "Siyabonga"],
        family: &["Mbeki", "van der Merwe", "Nkosi", "Dlamini", "Botha"],
        family_first: false,
        city: ("Cape Town", "8001"),
    },
    CountryData {
        alpha2: "CA",
        alpha3: "CAN",
        name: "Canada",
        weight: 3,
        given: &["Geneviève", "Étienne", "Liam", "Maëlle", "Noah", "Chloë"],
        family: &["Tremblay", "Gagné", "Côté", "Bouchard", "Wong", "Lévesque"],
        family_first: false,
        city: ("Montréal", "H2Y 1C6"),
    },
];

/// A department of the simulated company, its weight among generated people, and job titles.
pub(crate) struct DepartmentData {
    /// Department name (`department` in Remote's JSON).
    pub name: &'static str,
    /// Relative weight when placing a generated person.
    pub weight: u32,
    /// Title of the department's head.
    pub head_title: &'static str,
    /// Title of a team lead.
    pub lead_title: &'static str,
    /// Titles of individual contributors.
    pub titles: &'static [&'static str],
}

/// The company's departments. The CEO sits in "Executive", which has no other members.
pub(crate) const DEPARTMENTS: &[DepartmentData] = &[
    DepartmentData {
        name: "Engineering",
        weight: 30,
        head_title: "VP of Engineering",
        lead_title: "Engineering Manager",
        titles: &[
            "Software Engineer", "Senior Software Engineer", "Staff Engineer", "QA Engineer",
            "Site Reliability Engineer", "Data Engineer",
        ],
    },
    DepartmentData {
        name: "Sales",
        weight: 20,
        head_title: "VP of Sales",
        lead_title: "Sales Manager",
        titles: &["Account Executive", "Sales Development Representative", "Solutions Engineer"],
    },
    DepartmentData {
        name: "Support",
        weight: 15,
        head_title: "Head of Support",
        lead_title: "Support Team Lead",
        titles: &["Support Specialist", "Technical Support Engineer", "Support Agent"],
    },
    DepartmentData {
        name: "Marketing",
        weight: 10,
        head_title: "CMO",
        lead_title: "Marketing Manager",
        titles: &["Content Marketer", "Growth Marketer", "Product Marketing Manager"],
    },
    DepartmentData {
        name: "Finance",
        weight: 8,
        head_title: "CFO",
        lead_title: "Finance Manager",
        titles: &["Accountant", "Financial Analyst", "Payroll Specialist"],
    },
    DepartmentData {
        name: "People",
        weight: 7,
        head_title: "Chief People Officer",
        lead_title: "People Partner Lead",
        titles: &["People Partner", "Recruiter", "People Operations Specialist"],
    },
    DepartmentData {
        name: "Product",
        weight: 6,
        head_title: "VP of Product",
        lead_title: "Group Product Manager",
        titles: &["Product Manager", "Product Designer", "UX Researcher"],
    },
    DepartmentData {
        name: "Legal",
        weight: 4,
        head_title: "General Counsel",
        lead_title: "Legal Manager",
        titles: &["Legal Counsel", "Paralegal", "Compliance Analyst"],
    },
];

/// Name of the CEO's department.
pub(crate) const EXECUTIVE: &str = "Executive";

/// A hand-picked person that every workforce of sufficient size contains, to exercise name
/// handling: diacritics, name orders, mononyms, many-word names, duplicates and hostile characters.
pub(crate) struct SpecialPerson {
    /// `full_name` as Remote shows it.
    pub full_name: &'static str,
    /// Given name in `basic_information`, if Remote holds one.
    pub given: Option<&'static str>,
    /// Surname in `basic_information`, if Remote holds one.
    pub surname: Option<&'static str>,
    /// Whether `basic_information` is present at all.
    pub basic_information: bool,
    /// Country (alpha-2).
    pub country: &'static str,
}

/// Full name of the person whose name carries the characters LDAP and CSV handling must escape.
pub const HOSTILE_NAME: &str = " Renée \"Ren\" Dubois-Marchand, Jr. <QA>; #1 *(+=\\)";

/// Full name carried by exactly two people.
pub const DUPLICATE_NAME: &str = "Anna Svensson";

/// Everybody in this list appears once (the duplicate name twice) when the workforce is large
/// enough (see `workforce::generate`).
pub(crate) const SPECIAL_PEOPLE: &[SpecialPerson] = &[
    SpecialPerson {
        full_name: "José Müller",
        given: Some("José"),
        surname: Some("Müller"),
        basic_information: true,
        country: "DE",
    },
    SpecialPerson {
        full_name: "Zoë Ångström",
        given: Some("Zoë"),
        surname: Some("Ångström"),
        basic_information: true,
        country: "SE",
    },
    SpecialPerson {
        full_name: "Łukasz Żółć",
        given: Some("Łukasz"),
        surname: Some("Żółć"),
        basic_information: true,
        country: "PL",
    },
    SpecialPerson {
        full_name: "Siobhán Ó Briain",
        given: Some("Siobhán"),
        surname: Some("Ó Briain"),
        basic_information: true,
        country: "IE",
    },
    SpecialPerson {
        full_name: "Nguyễn Văn An",
        given: Some("Văn An"),
        surname: Some("Nguyễn"),
        basic_information: true,
        country: "VN",
    },
    SpecialPerson {
        full_name: "Sukarno",
        given: Some("Sukarno"),
        surname: None,
        basic_information: true,
        country: "ID",
    },
    SpecialPerson {
        full_name: "Maria da Graça Souza Lima",
        given: Some("Maria da Graça"),
        surname: Some("Souza Lima"),
        basic_information: true,
        country: "BR",
    },
    SpecialPerson {
        full_name: DUPLICATE_NAME,
        given: Some("Anna"),
        surname: Some("Svensson"),
        basic_information: true,
        country: "SE",
    },
    SpecialPerson {
        full_name: DUPLICATE_NAME,
        given: None,
        surname: None,
        basic_information: false,
        country: "SE",
    },
    SpecialPerson {
        full_name: HOSTILE_NAME,
        given: None,
        surname: None,
        basic_information: false,
        country: "FR",
    },
];

/// Domain of work email addresses.
pub(crate) const WORK_DOMAIN: &str = "acme.example";

/// Domains of personal email addresses (reserved example domains, never deliverable).
pub(crate) const PERSONAL_DOMAINS: &[&str] = &["example.com", "example.net", "example.org"];
