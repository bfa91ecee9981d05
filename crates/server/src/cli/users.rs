//! `stableport users`: a customer's users, made by an operator (the first
//! entity manager, say) before anyone can sign in.

use std::process::ExitCode;

use clap::{Args, Subcommand};
use serde_json::json;
use stableport_core::users::{self, NewUser};
use stableport_domain::Role;
use stableport_store::{Order, Page, SortKey, Store, User, UserFilter, UserStore};
use uuid::Uuid;

#[derive(Args)]
pub struct UsersArgs {
    #[command(flatten)]
    pub db: super::Database,
    #[command(subcommand)]
    pub command: UsersCommand,
}

#[derive(Subcommand)]
pub enum UsersCommand {
    /// Create a user; prints it as JSON, with its password when one was generated.
    Create {
        #[arg(long)]
        customer: Uuid,
        #[arg(long)]
        email: String,
        /// ENTITY_MANAGER, TREASURER, APPROVER or VIEWER; repeat or separate with commas.
        #[arg(long = "role", value_delimiter = ',', value_parser = parse_role, required = true)]
        roles: Vec<Role>,
        /// At least 12 characters; generated (and printed once) when not given.
        #[arg(long, env = "STABLEPORT_USER_PASSWORD", hide_env_values = true)]
        password: Option<String>,
    },
    /// The customer's users, as JSON lines (disabled ones too).
    List {
        #[arg(long)]
        customer: Uuid,
    },
}

fn parse_role(text: &str) -> Result<Role, String> {
    Role::parse(text).ok_or_else(|| format!("{text:?} is not one of {}", Role::names().join(", ")))
}

fn show(u: &User) -> serde_json::Value {
    json!({
        "id": u.id,
        "customer_id": u.customer_id,
        "email": u.email,
        "roles": u.roles.iter().map(|r| r.as_str()).collect::<Vec<_>>(),
        "status": if u.disabled { "DISABLED" } else { "ACTIVE" },
    })
}

pub async fn run(args: UsersArgs) -> anyhow::Result<ExitCode> {
    let store = stableport_store::open(&args.db.database_url).await?;
    match args.command {
        UsersCommand::Create {
            customer,
            email,
            roles,
            password,
        } => {
            anyhow::ensure!(
                store.customer_exists(customer).await?,
                "customer {customer} does not exist"
            );
            let (core, _writers) = stableport_core::Core::start(
                std::sync::Arc::new(store),
                stableport_core::Settlement::Manual,
            );
            let new = NewUser {
                email,
                roles,
                password,
            };
            let made = users::create(&core, customer, None, new, crate::time::now()).await?;
            let mut shown = show(&made.user);
            if let Some(password) = made.generated_password {
                shown["password"] = json!(password);
            }
            if let Some(request) = made.request {
                shown["approval_request_id"] = json!(request.id);
            }
            println!("{shown}");
        }
        UsersCommand::List { customer } => {
            let filter = UserFilter {
                include_disabled: true,
                page: Page {
                    order: Order::Asc,
                    limit: i64::MAX,
                    after: None,
                    by: SortKey::CreatedAt,
                },
            };
            for u in store.list_users(customer, &filter).await? {
                println!("{}", show(&u));
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
