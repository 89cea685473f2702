//! The `select!` macro: parses the arms, evaluates every operand and send value once in
//! source order, builds the case records (`select_case.rs`), awaits the [`Select`] future
//! (`select.rs`) and runs the chosen arm's body in the caller's async context.
//!
//! [`Select`]: super::select::Select

/// Waits on several channel operations and completes exactly one, as Go's `select`.
///
/// Arms, separated by commas:
/// - `recv(c) -> v => body`: `v: Option<T>` (`None`: closed and drained);
/// - `send(c, x) -> res => body`: `res: Result<(), SendError<T>>`;
/// - `default => body`: taken when no other case is ready now (makes the select non-blocking).
///
/// `c` may be a [`Chan`](crate::chan::Chan), [`Sender`](crate::chan::Sender) (send arms),
/// [`Receiver`](crate::chan::Receiver) (receive arms) or a reference to one, including a
/// temporary. The pattern after `->` is an identifier or `_`. Every channel operand and send
/// value is evaluated once, in source order, before anything else. Among the cases ready at
/// once one is chosen uniformly at random. A send case that is not chosen keeps its value
/// (it is dropped with the select). Cases on [`Chan::nil`](crate::chan::Chan::nil) are never
/// chosen; `select! {}` waits forever.
///
/// `select!` must be used inside async code: it awaits in place and is an expression whose
/// value is the chosen arm's body. Bodies run in the enclosing async context, so they may
/// `.await`, `break`, `continue`, `return` and use `?`. Dropping the enclosing future while
/// the select waits loses nothing. The future is `Send` when the channels' items are.
///
/// ```
/// use gorun::chan::chan;
/// use gorun::select;
///
/// futures::executor::block_on(async {
///     let a = chan::<i32>(1);
///     let b = chan::<&str>(1);
///     b.try_send("hi").unwrap();
///     let got = select! {
///         recv(a) -> v => format!("a: {v:?}"),
///         recv(b) -> v => format!("b: {v:?}"),
///     };
///     assert_eq!(got, "b: Some(\"hi\")");
///
///     // Non-blocking with default; send arms give their value back on failure.
///     let full = chan::<i32>(0);
///     let r = select! {
///         send(full, 1) -> res => res.is_ok(),
///         default => false,
///     };
///     assert!(!r);
/// });
/// ```
#[macro_export]
macro_rules! select {
    () => {{
        match $crate::chan::__private::never().await {}
    }};
    ($($arms:tt)+) => {
        $crate::__select_parse!(
            @idx [0 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 21 22 23 24 25 26 27
                  28 29 30 31 32 33 34 35 36 37 38 39 40 41 42 43 44 45 46 47 48 49 50 51 52
                  53 54 55 56 57 58 59 60 61 62 63]
            @cases []
            @default []
            $($arms)+
        )
    };
}

/// Parses `select!` arms into a normalized list (implementation detail).
#[doc(hidden)]
#[macro_export]
macro_rules! __select_parse {
    // All arms parsed.
    (@idx [$($idx:tt)*] @cases [$($cases:tt)*] @default [$($def:tt)*]) => {
        $crate::__select_gen!(@cases [$($cases)*] @default [$($def)*])
    };
    (@idx [] @cases [$($cases:tt)*] @default [$($def:tt)*] $($rest:tt)+) => {
        ::core::compile_error!("select!: at most 64 cases")
    };

    // recv(c) -> p => body
    (@idx [$i:tt $($idx:tt)*] @cases [$($cases:tt)*] @default [$($def:tt)*]
        recv($ch:expr) -> $p:pat => $body:block, $($rest:tt)*) => {
        $crate::__select_parse!(@idx [$($idx)*] @cases [$($cases)* [recv $i ($ch) ($p) ($body)]]
            @default [$($def)*] $($rest)*)
    };
    (@idx [$i:tt $($idx:tt)*] @cases [$($cases:tt)*] @default [$($def:tt)*]
        recv($ch:expr) -> $p:pat => $body:block $($rest:tt)*) => {
        $crate::__select_parse!(@idx [$($idx)*] @cases [$($cases)* [recv $i ($ch) ($p) ($body)]]
            @default [$($def)*] $($rest)*)
    };
    (@idx [$i:tt $($idx:tt)*] @cases [$($cases:tt)*] @default [$($def:tt)*]
        recv($ch:expr) -> $p:pat => $body:expr, $($rest:tt)*) => {
        $crate::__select_parse!(@idx [$($idx)*] @cases [$($cases)* [recv $i ($ch) ($p) ($body)]]
            @default [$($def)*] $($rest)*)
    };
    (@idx [$i:tt $($idx:tt)*] @cases [$($cases:tt)*] @default [$($def:tt)*]
        recv($ch:expr) -> $p:pat => $body:expr) => {
        $crate::__select_parse!(@idx [$($idx)*] @cases [$($cases)* [recv $i ($ch) ($p) ($body)]]
            @default [$($def)*])
    };

    // send(c, x) -> p => body
    (@idx [$i:tt $($idx:tt)*] @cases [$($cases:tt)*] @default [$($def:tt)*]
        send($ch:expr, $val:expr) -> $p:pat => $body:block, $($rest:tt)*) => {
        $crate::__select_parse!(@idx [$($idx)*]
            @cases [$($cases)* [send $i ($ch, $val) ($p) ($body)]] @default [$($def)*] $($rest)*)
    };
    (@idx [$i:tt $($idx:tt)*] @cases [$($cases:tt)*] @default [$($def:tt)*]
        send($ch:expr, $val:expr) -> $p:pat => $body:block $($rest:tt)*) => {
        $crate::__select_parse!(@idx [$($idx)*]
            @cases [$($cases)* [send $i ($ch, $val) ($p) ($body)]] @default [$($def)*] $($rest)*)
    };
    (@idx [$i:tt $($idx:tt)*] @cases [$($cases:tt)*] @default [$($def:tt)*]
        send($ch:expr, $val:expr) -> $p:pat => $body:expr, $($rest:tt)*) => {
        $crate::__select_parse!(@idx [$($idx)*]
            @cases [$($cases)* [send $i ($ch, $val) ($p) ($body)]] @default [$($def)*] $($rest)*)
    };
    (@idx [$i:tt $($idx:tt)*] @cases [$($cases:tt)*] @default [$($def:tt)*]
        send($ch:expr, $val:expr) -> $p:pat => $body:expr) => {
        $crate::__select_parse!(@idx [$($idx)*]
            @cases [$($cases)* [send $i ($ch, $val) ($p) ($body)]] @default [$($def)*])
    };

    // default => body
    (@idx [$($idx:tt)*] @cases [$($cases:tt)*] @default [$($def:tt)+]
        default => $($rest:tt)*) => {
        ::core::compile_error!("select!: more than one `default` arm")
    };
    (@idx [$($idx:tt)*] @cases [$($cases:tt)*] @default []
        default => $body:block, $($rest:tt)*) => {
        $crate::__select_parse!(@idx [$($idx)*] @cases [$($cases)*] @default [($body)] $($rest)*)
    };
    (@idx [$($idx:tt)*] @cases [$($cases:tt)*] @default []
        default => $body:block $($rest:tt)*) => {
        $crate::__select_parse!(@idx [$($idx)*] @cases [$($cases)*] @default [($body)] $($rest)*)
    };
    (@idx [$($idx:tt)*] @cases [$($cases:tt)*] @default []
        default => $body:expr, $($rest:tt)*) => {
        $crate::__select_parse!(@idx [$($idx)*] @cases [$($cases)*] @default [($body)] $($rest)*)
    };
    (@idx [$($idx:tt)*] @cases [$($cases:tt)*] @default []
        default => $body:expr) => {
        $crate::__select_parse!(@idx [$($idx)*] @cases [$($cases)*] @default [($body)])
    };

    (@idx [$($idx:tt)*] @cases [$($cases:tt)*] @default [$($def:tt)*] $($rest:tt)+) => {
        ::core::compile_error!(concat!(
            "select!: expected `recv(chan) -> pat => body`, `send(chan, value) -> pat => body` \
             or `default => body`, found: ",
            stringify!($($rest)+)
        ))
    };
}

/// Generates a `select!` from its normalized arms (implementation detail).
#[doc(hidden)]
#[macro_export]
macro_rules! __select_gen {
    (@cases [$([$kind:ident $i:tt ($($op:tt)*) ($p:pat) ($body:expr)])*]
     @default [$($def:tt)*]) => {{
        // Operands and send values, once each, in source order. Temporaries in a match
        // scrutinee live until the end of the match, so `recv(after(d))` borrows fine. The
        // chosen case's result is moved out before the borrows end, so bodies may reassign or
        // move the channels (`c = Chan::nil()`).
        #[allow(unused_mut, unused_variables, clippy::unused_unit)]
        let (__gorun_idx, mut __gorun_res) =
            match ($($crate::__select_gen!(@operand $kind $($op)*),)*) {
                mut __gorun_ops => {
                    let mut __gorun_cases =
                        ($($crate::__select_gen!(@case $kind __gorun_ops . $i),)*);
                    let __gorun_idx = $crate::chan::__private::select(
                        [$(&mut __gorun_cases.$i
                            as &mut (dyn $crate::chan::__private::SelectCase
                                + ::core::marker::Send),)*],
                        $crate::__select_gen!(@has_default $($def)*),
                    )
                    .await;
                    (
                        __gorun_idx,
                        ($(if __gorun_idx == $i {
                            ::core::option::Option::Some(__gorun_cases.$i.take())
                        } else {
                            ::core::option::Option::None
                        },)*),
                    )
                }
            };
        #[allow(unreachable_patterns)]
        match __gorun_idx {
            $($i => {
                let $p = __gorun_res.$i.take().unwrap();
                $body
            })*
            _ => $crate::__select_gen!(@default_body $($def)*),
        }
    }};
    (@operand recv $ch:expr) => { &$ch };
    (@operand send $ch:expr, $val:expr) => { (&$ch, $val) };
    (@case recv $ops:ident . $i:tt) => { $crate::chan::__private::recv_case($ops.$i) };
    (@case send $ops:ident . $i:tt) => {{
        let (__gorun_c, __gorun_v) = $ops.$i;
        $crate::chan::__private::send_case(__gorun_c, __gorun_v)
    }};
    (@has_default) => { false };
    (@has_default ($body:expr)) => { true };
    (@default_body) => { ::core::unreachable!("select!: no case completed") };
    (@default_body ($body:expr)) => { $body };
}
