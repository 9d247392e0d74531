-- timeliness (metrics.md §11): one row per provider × municipality × month of the line's product period,
-- over the iwmo/ijw lines declared by $as_of (debits and credits, both laws).
-- a line is late when declared_on lies after period_end + $late_after_months months; lag = declared_on −
-- period_end in days. an answer is late when it came (answered_on <= $as_of) or is still missing at $as_of
-- more than $answer_days working days (staging.calendar_days) after declared_on. late_answers counts lines
-- whose message was answered late; late_answer_messages counts those messages.
with

declaration_lines as not materialized (
    select * from staging.declaration_lines
),

calendar_days as not materialized (
    select * from staging.calendar_days
),

params as (
    select
        cast($as_of as date) as as_of,
        cast($late_after_months as integer) as late_after_months,
        cast($answer_days as integer) as answer_days
),

known_lines as (
    select
        declaration_lines.provider_agb,
        declaration_lines.municipality_code,
        declaration_lines.month,
        declaration_lines.message_id,
        declaration_lines.declared_on,
        declaration_lines.period_end,
        declaration_lines.net_amount_eur,
        declaration_lines.declared_on > declaration_lines.period_end + to_months(params.late_after_months)
            as is_late,
        datediff('day', declaration_lines.period_end, declaration_lines.declared_on) as lag_days,
        case
            when coalesce(declaration_lines.answered_on, declaration_lines.rejected_on) <= params.as_of
                then coalesce(declaration_lines.answered_on, declaration_lines.rejected_on)
            else params.as_of
        end as answered_or_as_of
    from declaration_lines
    cross join params
    where declaration_lines.declared_on <= params.as_of
),

answer_delays as (
    select
        known_lines.*,
        answer_day.working_day_number - declared_day.working_day_number as answer_working_days,
        coalesce(answer_day.working_day_number - declared_day.working_day_number > params.answer_days, false)
            as is_late_answer
    from known_lines
    cross join params
    left join calendar_days as declared_day
        on declared_day.day = known_lines.declared_on
    left join calendar_days as answer_day
        on answer_day.day = known_lines.answered_or_as_of
),

final as (
    select
        provider_agb,
        municipality_code,
        month,
        cast(count(*) as integer) as lines,
        cast(count(*) filter (where is_late) as integer) as late_lines,
        cast(coalesce(sum(net_amount_eur) filter (where is_late), 0) as decimal(18, 2)) as late_amount_eur,
        cast(median(lag_days) as double) as median_lag_days,
        cast(count(*) filter (where is_late_answer) as integer) as late_answers,
        cast(count(distinct message_id) filter (where is_late_answer) as integer) as late_answer_messages
    from answer_delays
    group by all
)

select * from final
