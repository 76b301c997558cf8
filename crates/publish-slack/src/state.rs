//! The message an alert was posted as, kept by the delivery engine between deliveries, and
//! what to do next (pure).

use publish::AlertStatus;
use serde::{Deserialize, Serialize};

use crate::{OnRepeat, OnResolve};

/// Where an alert's message lives: the vendor state kept per (target, fingerprint), stored
/// durably by the queue as `{"channel":"C…","ts":"…","status":"firing"}`.
///
/// A delivery of several calls (a resolve: `chat.update`, then a reply in the thread) that
/// failed after some of them succeeded hands back the state they left, with the calls still
/// due in `reply_due`: its retry makes only those (the update is not repeated).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MessageRef {
    /// Channel id (`chat.update` needs the id, not a name).
    pub channel: String,
    /// The message's timestamp, its id in the channel.
    pub ts: String,
    /// The form the message shows now.
    pub status: AlertStatus,
    /// A thread reply a delivery still owes after its earlier calls succeeded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reply_due: Option<ReplyDue>,
}

/// A thread reply still due from one delivery (identified by its id, the same on every retry).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReplyDue {
    /// The delivery that owes it.
    pub delivery: String,
    /// Which reply.
    pub reply: DueReply,
}

/// The thread replies a delivery can owe.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DueReply {
    /// "Resolved after …".
    Resolved,
    /// "Still firing since …".
    StillFiring,
}

impl MessageRef {
    /// A message that owes nothing.
    pub fn new(channel: String, ts: String, status: AlertStatus) -> Self {
        Self {
            channel,
            ts,
            status,
            reply_due: None,
        }
    }

    /// Reads the stored state; anything unreadable counts as no message.
    pub fn from_state(state: Option<&serde_json::Value>) -> Option<Self> {
        let r: MessageRef = serde_json::from_value(state?.clone()).ok()?;
        (!r.channel.is_empty() && !r.ts.is_empty()).then_some(r)
    }

    /// The state to store.
    pub fn to_state(&self) -> serde_json::Value {
        let mut state =
            serde_json::json!({"channel": self.channel, "ts": self.ts, "status": self.status});
        if let Some(due) = &self.reply_due {
            state["reply_due"] = serde_json::json!(due);
        }
        state
    }
}

/// A thread reply to send.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Reply {
    /// "Resolved after …".
    Resolved {
        /// Also show it in the channel.
        broadcast: bool,
    },
    /// "Still firing since …".
    StillFiring,
}

impl Reply {
    fn due(self) -> DueReply {
        match self {
            Reply::Resolved { .. } => DueReply::Resolved,
            Reply::StillFiring => DueReply::StillFiring,
        }
    }

    /// The note kept while this reply is owed by `delivery`.
    pub(crate) fn owed_by(self, delivery: &str) -> ReplyDue {
        ReplyDue {
            delivery: delivery.to_owned(),
            reply: self.due(),
        }
    }
}

/// What one delivery does in token mode, in this order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Plan {
    /// Edit the existing message into the alert's current form.
    pub(crate) update: Option<MessageRef>,
    /// Post a new top-level message.
    pub(crate) post: bool,
    /// Reply in the existing message's thread.
    pub(crate) reply: Option<(MessageRef, Reply)>,
}

impl Plan {
    fn post() -> Self {
        Plan {
            update: None,
            post: true,
            reply: None,
        }
    }

    /// Whether it posts to the channel (a message or a thread reply: the channel's message
    /// limit).
    pub(crate) fn posts(&self) -> bool {
        self.post || self.reply.is_some()
    }
}

/// Decides what to do for an alert of `status` whose message is `previous`:
///
/// * firing, no message or a resolved one → post a new message;
/// * firing again (after the repeat interval) → per `on_repeat`: update and reply "still
///   firing", update only, or post anew;
/// * resolved, no message → post the resolved form;
/// * resolved, firing message → per `on_resolve`: update it, reply in its thread (either, both;
///   with neither, post the resolved form);
/// * resolved, already resolved (a replay) → update again, no second reply.
///
/// A retry of delivery `delivery` whose earlier attempt left a reply due (its update went
/// through) makes only that reply.
pub(crate) fn plan(
    status: AlertStatus,
    previous: Option<&MessageRef>,
    delivery: &str,
    on_resolve: &OnResolve,
    on_repeat: OnRepeat,
) -> Plan {
    let Some(prev) = previous else {
        return Plan::post();
    };
    if let Some(due) = &prev.reply_due
        && due.delivery == delivery
    {
        let reply = match (status, due.reply) {
            (AlertStatus::Resolved, DueReply::Resolved) => Some(Reply::Resolved {
                broadcast: on_resolve.reply_broadcast,
            }),
            (AlertStatus::Firing, DueReply::StillFiring) => Some(Reply::StillFiring),
            // not what this delivery owes: plan afresh
            _ => None,
        };
        if let Some(reply) = reply {
            let parent = MessageRef {
                reply_due: None,
                ..prev.clone()
            };
            return Plan {
                update: None,
                post: false,
                reply: Some((parent, reply)),
            };
        }
    }
    let prev = &MessageRef {
        reply_due: None,
        ..prev.clone()
    };
    match (status, prev.status) {
        (AlertStatus::Firing, AlertStatus::Resolved) => Plan::post(),
        (AlertStatus::Firing, AlertStatus::Firing) => match on_repeat {
            OnRepeat::New => Plan::post(),
            OnRepeat::Update => Plan {
                update: Some(prev.clone()),
                post: false,
                reply: None,
            },
            OnRepeat::Reply => Plan {
                update: Some(prev.clone()),
                post: false,
                reply: Some((prev.clone(), Reply::StillFiring)),
            },
        },
        (AlertStatus::Resolved, AlertStatus::Resolved) => Plan {
            update: on_resolve.update_message.then(|| prev.clone()),
            post: false,
            reply: None,
        },
        (AlertStatus::Resolved, AlertStatus::Firing) => {
            if !on_resolve.update_message && !on_resolve.thread_reply {
                return Plan::post();
            }
            Plan {
                update: on_resolve.update_message.then(|| prev.clone()),
                post: false,
                reply: on_resolve.thread_reply.then(|| {
                    (
                        prev.clone(),
                        Reply::Resolved {
                            broadcast: on_resolve.reply_broadcast,
                        },
                    )
                }),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use AlertStatus::{Firing, Resolved};

    fn msg(status: AlertStatus) -> MessageRef {
        MessageRef::new("C1".to_owned(), "1.000001".to_owned(), status)
    }

    fn check(
        status: AlertStatus,
        prev: Option<AlertStatus>,
        on_resolve: OnResolve,
        on_repeat: OnRepeat,
        expected: (bool, bool, Option<Reply>),
    ) {
        let prev = prev.map(msg);
        let p = plan(status, prev.as_ref(), "d1", &on_resolve, on_repeat);
        let got = (p.update.is_some(), p.post, p.reply.map(|(_, r)| r));
        assert_eq!(
            got, expected,
            "{status:?} after {prev:?} with {on_resolve:?} {on_repeat:?}"
        );
    }

    #[test]
    fn lifecycle() {
        let d = OnResolve::default();
        let reply = Some(Reply::Resolved { broadcast: false });
        check(
            Firing,
            None,
            d.clone(),
            OnRepeat::Reply,
            (false, true, None),
        );
        check(
            Firing,
            Some(Resolved),
            d.clone(),
            OnRepeat::Reply,
            (false, true, None),
        );
        check(
            Firing,
            Some(Firing),
            d.clone(),
            OnRepeat::Reply,
            (true, false, Some(Reply::StillFiring)),
        );
        check(
            Firing,
            Some(Firing),
            d.clone(),
            OnRepeat::Update,
            (true, false, None),
        );
        check(
            Firing,
            Some(Firing),
            d.clone(),
            OnRepeat::New,
            (false, true, None),
        );
        check(
            Resolved,
            None,
            d.clone(),
            OnRepeat::Reply,
            (false, true, None),
        );
        check(
            Resolved,
            Some(Firing),
            d.clone(),
            OnRepeat::Reply,
            (true, false, reply),
        );
        check(
            Resolved,
            Some(Resolved),
            d.clone(),
            OnRepeat::Reply,
            (true, false, None),
        );
        let no_update = OnResolve {
            update_message: false,
            ..d.clone()
        };
        check(
            Resolved,
            Some(Firing),
            no_update,
            OnRepeat::Reply,
            (false, false, reply),
        );
        let no_reply = OnResolve {
            thread_reply: false,
            ..d.clone()
        };
        check(
            Resolved,
            Some(Firing),
            no_reply,
            OnRepeat::Reply,
            (true, false, None),
        );
        let neither = OnResolve {
            update_message: false,
            thread_reply: false,
            reply_broadcast: false,
        };
        check(
            Resolved,
            Some(Firing),
            neither,
            OnRepeat::Reply,
            (false, true, None),
        );
        let broadcast = OnResolve {
            reply_broadcast: true,
            ..d
        };
        check(
            Resolved,
            Some(Firing),
            broadcast,
            OnRepeat::Reply,
            (true, false, Some(Reply::Resolved { broadcast: true })),
        );
    }

    /// What a retry of delivery `d1` does after its attempt left `due` owed.
    fn resumed(status: AlertStatus, shown: AlertStatus, due: Option<(&str, DueReply)>) -> Plan {
        let prev = MessageRef {
            reply_due: due.map(|(delivery, reply)| ReplyDue {
                delivery: delivery.to_owned(),
                reply,
            }),
            ..msg(shown)
        };
        plan(
            status,
            Some(&prev),
            "d1",
            &OnResolve::default(),
            OnRepeat::Reply,
        )
    }

    #[test]
    fn a_retry_makes_only_the_calls_still_due() {
        // The resolve's update went through, its reply did not: only the reply is sent.
        let p = resumed(Resolved, Resolved, Some(("d1", DueReply::Resolved)));
        assert_eq!(
            (p.update, p.post, p.reply.map(|(m, r)| (m.reply_due, r))),
            (
                None,
                false,
                Some((None, Reply::Resolved { broadcast: false }))
            )
        );
        let p = resumed(Firing, Firing, Some(("d1", DueReply::StillFiring)));
        assert_eq!(
            (p.update.is_some(), p.post, p.reply.map(|(_, r)| r)),
            (false, false, Some(Reply::StillFiring))
        );
        // Another delivery owes it (this one was superseded or died): plan afresh.
        let p = resumed(Resolved, Resolved, Some(("d0", DueReply::Resolved)));
        assert_eq!(
            (p.update.is_some(), p.post, p.reply.is_some()),
            (true, false, false),
            "a replayed resolve updates again, without a second reply"
        );
        let p = resumed(Firing, Resolved, Some(("d0", DueReply::Resolved)));
        assert_eq!(
            (p.update.is_some(), p.post, p.reply.is_some()),
            (false, true, false),
            "a re-fire after a resolve starts a new message"
        );
        // A note that does not fit the alert's status is not trusted.
        let p = resumed(Firing, Resolved, Some(("d1", DueReply::Resolved)));
        assert!(p.post && p.reply.is_none());
        // Nothing due: the usual plan, and the parent of its reply owes nothing.
        let p = resumed(Resolved, Firing, None);
        assert!(p.update.is_some() && p.reply.is_some());
        assert!(p.reply.unwrap().0.reply_due.is_none());
    }

    #[test]
    fn state_round_trip() {
        let m = msg(Firing);
        assert_eq!(
            m.to_state(),
            serde_json::json!({"channel": "C1", "ts": "1.000001", "status": "firing"})
        );
        assert_eq!(MessageRef::from_state(Some(&m.to_state())), Some(m));
        let owing = MessageRef {
            reply_due: Some(Reply::Resolved { broadcast: true }.owed_by("d1")),
            ..msg(Resolved)
        };
        assert_eq!(
            owing.to_state(),
            serde_json::json!({"channel": "C1", "ts": "1.000001", "status": "resolved",
                               "reply_due": {"delivery": "d1", "reply": "resolved"}})
        );
        assert_eq!(MessageRef::from_state(Some(&owing.to_state())), Some(owing));
        assert_eq!(MessageRef::from_state(None), None);
        assert_eq!(
            MessageRef::from_state(Some(&serde_json::json!({"dedup_key": "x"}))),
            None
        );
        assert_eq!(
            MessageRef::from_state(Some(
                &serde_json::json!({"channel": "", "ts": "1", "status": "firing"})
            )),
            None
        );
    }
}
