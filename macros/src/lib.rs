//! `#[gorun::main]` and `#[gorun::test]`: run an `async fn` on a fresh gorun runtime.
//!
//! Written on `proc_macro` alone (no `syn`): the function is kept token for token, only its
//! `async` keyword is removed and its body becomes the main goroutine of a fresh runtime:
//! `Runtime::__run_main(async move { .. })`.

#![warn(missing_docs)]

use proc_macro::{Delimiter, Group, Ident, Literal, Punct, Spacing, Span, TokenStream, TokenTree};

/// Runs `async fn main` on a fresh runtime: `#[gorun::main]` or `#[gorun::main(workers = 4)]`.
/// As in Go, the body is goroutine 1 (`[main]` in dumps) and runs on a worker; the main thread
/// only waits for it, and the program ends when it returns (other goroutines are dropped with
/// the runtime). Like every goroutine the body must be `Send` (a `!Send` value held across an
/// `.await` does not compile: drive such a future with `Runtime::block_on` from a plain `fn
/// main`). `main` may return what a normal `main` returns (e.g.
/// `Result<(), E>`); a panic in it ends the program with the panic's message. (The examples
/// run as doctests of the `gorun` crate, which re-exports these attributes.)
///
/// ```ignore
/// #[gorun::main(workers = 2)]
/// async fn main() {
///     let h = gorun::go(async { 21 * 2 });
///     assert_eq!(h.await.unwrap(), 42);
/// }
/// ```
#[proc_macro_attribute]
pub fn main(attr: TokenStream, item: TokenStream) -> TokenStream {
    expand(attr, item, false).unwrap_or_else(|e| e)
}

/// Runs an `async fn` test on a fresh runtime with `PanicPolicy::Contain`, its body a goroutine
/// as `main`'s; the runtime, with any goroutines still blocked, is dropped when the test ends.
/// Accepts `workers = N`.
///
/// ```ignore
/// #[gorun::test]
/// async fn adds() {
///     assert_eq!(gorun::go(async { 1 + 1 }).await.unwrap(), 2);
/// }
/// ```
#[proc_macro_attribute]
pub fn test(attr: TokenStream, item: TokenStream) -> TokenStream {
    expand(attr, item, true).unwrap_or_else(|e| e)
}

fn error(msg: &str, span: Span) -> TokenStream {
    let mut lit = Literal::string(msg);
    lit.set_span(span);
    let tokens: Vec<TokenTree> = vec![
        TokenTree::Ident(Ident::new("compile_error", span)),
        TokenTree::Punct(Punct::new('!', Spacing::Alone)),
        TokenTree::Group(Group::new(
            Delimiter::Parenthesis,
            TokenStream::from(TokenTree::Literal(lit)),
        )),
        TokenTree::Punct(Punct::new(';', Spacing::Alone)),
    ];
    tokens.into_iter().collect()
}

/// Parses `workers = N` (or nothing).
fn parse_workers(attr: TokenStream) -> Result<Option<Literal>, TokenStream> {
    let toks: Vec<TokenTree> = attr.into_iter().collect();
    if toks.is_empty() {
        return Ok(None);
    }
    match toks.as_slice() {
        [TokenTree::Ident(k), TokenTree::Punct(eq), TokenTree::Literal(n)]
            if k.to_string() == "workers" && eq.as_char() == '=' =>
        {
            Ok(Some(n.clone()))
        }
        _ => Err(error(
            "expected `workers = N` (or no arguments)",
            toks[0].span(),
        )),
    }
}

fn expand(attr: TokenStream, item: TokenStream, is_test: bool) -> Result<TokenStream, TokenStream> {
    let workers = parse_workers(attr)?;
    let mut toks: Vec<TokenTree> = item.into_iter().collect();
    let what = if is_test {
        "#[gorun::test]"
    } else {
        "#[gorun::main]"
    };

    let async_pos = toks
        .iter()
        .position(|t| matches!(t, TokenTree::Ident(i) if i.to_string() == "async"));
    let fn_pos = toks
        .iter()
        .position(|t| matches!(t, TokenTree::Ident(i) if i.to_string() == "fn"));
    let (async_pos, fn_pos) = match (async_pos, fn_pos) {
        (Some(a), Some(f)) if a < f => (a, f),
        _ => {
            let span = toks
                .first()
                .map(|t| t.span())
                .unwrap_or_else(Span::call_site);
            return Err(error(
                &format!("{what} must be placed on an `async fn`"),
                span,
            ));
        }
    };
    if !is_test {
        if let Some(TokenTree::Ident(name)) = toks.get(fn_pos + 1) {
            if name.to_string() != "main" {
                return Err(error(
                    "#[gorun::main] must be placed on `async fn main`",
                    name.span(),
                ));
            }
        }
    }
    let body = match toks.pop() {
        Some(TokenTree::Group(g)) if g.delimiter() == Delimiter::Brace => g,
        other => {
            let span = other.map(|t| t.span()).unwrap_or_else(Span::call_site);
            return Err(error(&format!("{what}: expected a function body"), span));
        }
    };
    toks.remove(async_pos);

    let workers_call = match workers {
        Some(n) => format!(".workers({n})"),
        None => String::new(),
    };
    let policy = if is_test {
        ".panic_policy(::gorun::runtime::PanicPolicy::Contain)"
    } else {
        ""
    };
    let prelude: TokenStream = format!(
        "::gorun::runtime::Builder::new(){workers_call}{policy}.build()\
         .expect(\"gorun: failed to start the runtime\").__run_main"
    )
    .parse()
    .expect("valid tokens");
    let mut call: Vec<TokenTree> = prelude.into_iter().collect();
    // Append `( async move BODY )`, keeping the body's own tokens and spans.
    let async_move_body: TokenStream = {
        let mut inner: Vec<TokenTree> = vec![
            TokenTree::Ident(Ident::new("async", Span::call_site())),
            TokenTree::Ident(Ident::new("move", Span::call_site())),
        ];
        inner.push(TokenTree::Group(body.clone()));
        inner.into_iter().collect()
    };
    call.push(TokenTree::Group(Group::new(
        Delimiter::Parenthesis,
        async_move_body,
    )));
    let mut new_body = Group::new(Delimiter::Brace, call.into_iter().collect());
    new_body.set_span(body.span());

    let mut out: Vec<TokenTree> = Vec::new();
    if is_test {
        let test_attr: TokenStream = "#[::core::prelude::v1::test]"
            .parse()
            .expect("valid tokens");
        out.extend(test_attr);
    }
    out.extend(toks);
    out.push(TokenTree::Group(new_body));
    Ok(out.into_iter().collect())
}
