//! A connector built against the frozen contract `hrsync:connector@0.1.0` (`wit/v0.1`), as
//! hrsync-sdk 0.1 built them. An hrsync of contract 0.2 must refuse it, naming both versions.

wit_bindgen::generate!({
    world: "plugin",
    path: "../../../wit/v0.1",
});

use exports::hrsync::connector::connector::{
    ActionOutput, Descriptor, Guest, HrEvent, Page, WebhookError, WebhookRequest,
};
use hrsync::connector::types::{ConnectorError, Field, Lifecycle, Person};

struct V01;

impl Guest for V01 {
    fn describe() -> Descriptor {
        Descriptor {
            name: "v01".to_string(),
            version: "0.1.0".to_string(),
            contract_version: "0.1.0".to_string(),
            fields: Vec::new(),
            events: Vec::new(),
            actions: Vec::new(),
        }
    }

    fn list_people(_cursor: Option<String>) -> Result<Page, ConnectorError> {
        Ok(Page {
            people: Vec::new(),
            rejected: Vec::new(),
            next_cursor: None,
            total: None,
        })
    }

    fn get_person(id: String) -> Result<Person, ConnectorError> {
        Ok(Person {
            id,
            status: Lifecycle::Active,
            source_status: "active".to_string(),
            fields: Vec::new(),
            raw: None,
            complete: true,
        })
    }

    fn parse_webhook(_request: WebhookRequest) -> Result<Vec<HrEvent>, WebhookError> {
        Err(WebhookError::Other("no webhooks".to_string()))
    }

    fn invoke(action: String, _params: Vec<Field>) -> Result<ActionOutput, ConnectorError> {
        Err(ConnectorError::Unsupported(action))
    }
}

export!(V01);
