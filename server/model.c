/* See model.h. */
#include "model.h"

#include <stdlib.h>
#include <string.h>

const char *const model_channel_types[] = {
	"internal", "custom", "whatsapp_bot", "messenger_bot", "instagram_dm", "twilio",
	"telnyx", "slack_bot", "telegram_bot", "gmail", "google_calendar", NULL,
};

const char *const model_segment_colors[] = {
	"red",	"orange", "amber",  "yellow", "lime",	 "green", "teal", "cyan",    "sky",
	"blue", "indigo", "violet", "purple", "fuchsia", "pink",  "rose", "neutral", NULL,
};

bool model_in_list(const char *const *list, const char *s)
{
	for (; *list; list++)
		if (!strcmp(*list, s))
			return true;
	return false;
}

void channel_cleanup(struct channel *ch)
{
	if (!ch)
		return;
	char **strs[] = {&ch->id,    &ch->type,	   &ch->user_id, &ch->avatar,	     &ch->name,
			 &ch->username, &ch->email, &ch->phone,   &ch->country,	     &ch->agent,
			 &ch->ip,	&ch->language, &ch->link, &ch->platform_data};
	for (size_t i = 0; i < sizeof strs / sizeof strs[0]; i++)
		free(*strs[i]);
	memset(ch, 0, sizeof *ch);
}

void segment_cleanup(struct segment *s)
{
	if (!s)
		return;
	free(s->id);
	free(s->name);
	free(s->color);
	memset(s, 0, sizeof *s);
}

void contact_lists_cleanup(struct contact *c)
{
	for (size_t i = 0; i < c->n_channels; i++)
		channel_cleanup(&c->channels[i]);
	free(c->channels);
	for (size_t i = 0; i < c->n_segments; i++)
		segment_cleanup(&c->segments[i]);
	free(c->segments);
	c->channels = NULL;
	c->segments = NULL;
	c->n_channels = c->n_segments = 0;
}

void contact_cleanup(struct contact *c)
{
	if (!c)
		return;
	free(c->id);
	free(c->name);
	free(c->unsubscribe_reason);
	free(c->unsubscribe_feedback);
	contact_lists_cleanup(c);
	memset(c, 0, sizeof *c);
}
