-- Declaration answers (325). A declaration-level row (no reference_number) voids the whole
-- declaration when it carries 0001 or any code other than 0200 / 8001.
with source as (
    select * from raw.answers
),

codes as (
    select
        *,
        list_transform(string_split(replace(return_codes, ' ', ''), ','), lambda x: trim(x)) as code_list
    from source
),

final as (
    select
        cast(provider_agb as varchar) as provider_agb,
        cast(law as varchar) as law,
        cast(message_id as varchar) as message_id,
        cast(answered_on as date) as answered_on,
        cast(reference_number as varchar) as reference_number,
        cast(array_to_string(code_list, ',') as varchar) as return_codes,
        reference_number is null
            and len(list_filter(code_list, lambda x: x not in ('0200', '8001'))) > 0 as voids_declaration,
        cast(source_file as varchar) as source_file
    from codes
)

select * from final
